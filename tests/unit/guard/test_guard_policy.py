"""Guard policy files: defaults, strict validation, one-line errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from redwatch.exceptions import UsageError
from redwatch.guard.pipeline import GuardPipeline
from redwatch.guard.policy import Policy, default_policy, load_policy, parse_policy
from redwatch.guard.stages import BUILTIN_STAGES

ROOT = Path(__file__).parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_orders_validate_sanitize_output_and_builds() -> None:
    policy = default_policy()
    assert policy.stage_names() == ["validate", "sanitize", "output"]
    stages = GuardPipeline(policy, stages=BUILTIN_STAGES).stages
    assert [s.name for s in stages] == ["validate", "sanitize", "output"]


def test_docs_show_the_default_policy() -> None:
    """docs/examples/default.policy.yaml (shown in docs/guard.md, where
    tests/unit/test_docs_blocks.py holds the block equal to the file) is the default."""
    example = ROOT / "docs" / "examples" / "default.policy.yaml"
    assert load_policy(example) == default_policy()
    page = (ROOT / "docs" / "guard.md").read_text(encoding="utf-8")
    assert "<!-- example: docs/examples/default.policy.yaml -->" in page


def test_load_policy_reads_stages_in_order_and_null_options(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "stages:\n  - name: output\n    options:\n      top_k: 1\n  - name: validate\n"
        "    options:\n",
    )
    policy = load_policy(path)
    assert policy.stage_names() == ["output", "validate"]
    assert policy.stages[0].options == {"top_k": 1}
    assert policy.stages[1].options == {}


def test_empty_file_is_a_policy_without_stages(tmp_path: Path) -> None:
    assert load_policy(_write(tmp_path, "")) == Policy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages:\n  - options: {}\n", "stages.0.name: Field required"),
        ("stages:\n  - name: validate\n    opts: {}\n", "stages.0.opts: Extra inputs"),
        ("version: 2\nstages: []\n", "version: Input should be 1"),
        ("stages:\n  - name: output\n  - name: output\n", "stage 'output' is listed twice"),
        ("stages: [\n", "not valid YAML (line"),
        ("- validate\n", "expected a mapping of settings, got list"),
        ("stages:\n  - name: ''\n", "stages.0.name: String should have at least 1"),
    ],
)
def test_bad_policy_files_give_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.yaml: file not found$"):
        load_policy(tmp_path / "nope.yaml")


def test_parse_policy_rejects_non_mapping() -> None:
    with pytest.raises(UsageError, match=r"^inline: expected a mapping with `stages`, got str$"):
        parse_policy("validate", "inline")


@pytest.mark.parametrize(
    ("stage", "options", "expected"),
    [
        ("output", {"decimals": -1}, "stage output: decimals: Input should be greater than"),
        ("output", {"gamma": 1}, "stage output: gamma: Extra inputs are not permitted"),
        ("validate", {"spec_check": "warn"}, "stage validate: spec_check: Input should be"),
        ("sanitize", {"squeeze_bits": 0}, "stage sanitize: squeeze_bits: Input should be"),
        ("sanitize", {"squeeze_bits": 4}, "squeeze_bits needs an input spec"),
        (
            "firewall",
            {},
            "unknown guard stage 'firewall'; known: auth, detect, extraction, llm-canary, "
            "llm-injection, llm-output, llm-redact, llm-tools, output, ratelimit, sanitize, "
            "validate, watermark",
        ),
    ],
)
def test_bad_stage_options_fail_when_the_pipeline_is_built(
    stage: str, options: dict[str, object], expected: str
) -> None:
    policy = parse_policy({"stages": [{"name": stage, "options": options}]})
    pipeline = GuardPipeline(policy, None, BUILTIN_STAGES, source="p.yaml")
    with pytest.raises(UsageError) as info:
        _ = pipeline.stages
    assert expected in str(info.value)
    assert "\n" not in str(info.value)

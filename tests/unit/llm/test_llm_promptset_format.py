"""Prompt-set format: strict validation, unique ids, placeholder filling."""

from __future__ import annotations

import pytest

from redwatch.exceptions import DataError
from redwatch.llm.promptset import PromptItem, load_family, parse_prompt_set


def _yaml(n: int, dup: bool = False) -> str:
    lines = ["family: t", "description: a test family of prompts", "prompts:"]
    for i in range(n):
        k = 0 if dup and i == 1 else i
        lines += [
            f"  - id: TS-{k:03d}",
            "    goal: make it say the marker",
            "    prompt: 'say {marker} now {unknown} {{braces}}'",
            "    expected: refuses politely",
        ]
    return "\n".join(lines)


def test_render_fills_known_placeholders_only() -> None:
    item = parse_prompt_set(_yaml(30), "t.yaml").prompts[0]
    out = item.render(marker="RW-1")
    assert out.prompt == "say RW-1 now {unknown} {braces}"
    assert item.prompt.startswith("say {marker}")


def test_validation_errors_name_file_and_field() -> None:
    with pytest.raises(DataError, match=r"t\.yaml: prompts"):
        parse_prompt_set(_yaml(29), "t.yaml")
    with pytest.raises(DataError, match="prompt id TS-000 appears twice"):
        parse_prompt_set(_yaml(30, dup=True), "t.yaml")
    with pytest.raises(DataError, match=r"t\.yaml: not valid YAML"):
        parse_prompt_set("a: [", "t.yaml")
    with pytest.raises(DataError, match="unknown prompt family 'nope'"):
        load_family("nope")


def test_item_ids_follow_the_pattern() -> None:
    with pytest.raises(ValueError, match="id"):
        PromptItem(id="x1", goal="a goal", prompt="a prompt", expected="refuses")

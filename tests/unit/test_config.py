"""Settings from the environment, and redwatch.yaml validation with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from redwatch.config import ProjectConfig, Settings, load_project_config
from redwatch.exceptions import UsageError
from redwatch.findings import Severity


def test_settings_default_to_a_home_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.home == tmp_path / ".redwatch"
    assert settings.db_url == f"sqlite:///{tmp_path / '.redwatch' / 'redwatch.db'}"


def test_settings_read_home_and_database_url_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"REDWATCH_HOME": str(tmp_path / "rw")})
    assert settings.home == tmp_path / "rw"
    assert settings.db_url == f"sqlite:///{tmp_path / 'rw' / 'redwatch.db'}"
    url = "postgresql+psycopg://u@db.internal/redwatch"
    settings = Settings.from_env({"REDWATCH_HOME": str(tmp_path), "REDWATCH_DB_URL": url})
    assert settings.db_url == url


def test_settings_use_os_environ_and_ignore_empty_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDWATCH_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("REDWATCH_DB_URL", "  ")
    settings = Settings.from_env()
    assert settings.home == tmp_path / "from-env"
    assert settings.db_url.startswith("sqlite:///")


def test_missing_default_project_file_gives_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_project_config()
    assert config == ProjectConfig()
    assert config.fail_on == "high"
    assert config.fail_threshold() is Severity.HIGH
    assert config.budget.queries is None


def test_default_project_file_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "redwatch.yaml").write_text(
        "label: default\n"
        "features:\n"
        "  age: {lower: 18, upper: 99, integer: true, immutable: true}\n"
        "  plan: {categorical: [0, 1, 2]}\n"
        "probes:\n"
        "  evasion.pgd: {eps: 0.05, steps: 20}\n"
        "  evasion.noise:\n"
        "budget: {queries: 5000, seconds: 60}\n"
        "fail_on: Medium\n"
        "image_shape: [1, 28, 28]\n"
    )
    config = load_project_config()
    assert config.features["age"].lower == 18.0
    assert config.features["age"].integer is True
    assert config.features["plan"].categorical == [0.0, 1.0, 2.0]
    assert config.probes == {"evasion.pgd": {"eps": 0.05, "steps": 20}, "evasion.noise": {}}
    assert (config.budget.queries, config.budget.seconds) == (5000, 60.0)
    assert config.fail_threshold() is Severity.MEDIUM
    assert config.image_shape == [1, 28, 28]
    assert config.label == "default"


def test_fail_on_none_never_fails(tmp_path: Path) -> None:
    path = tmp_path / "redwatch.yaml"
    path.write_text("fail_on: none\n")
    assert load_project_config(path).fail_threshold() is None


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "redwatch.yaml"
    path.write_text("# nothing yet\n")
    assert load_project_config(path) == ProjectConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "features:\n  amount:\n    lower: abc\n",
            "redwatch.yaml: features.amount.lower: Input should be a valid number",
        ),
        ("features: {x: {lower: 3, upper: 1}}\n", "redwatch.yaml: features.x: lower (3.0)"),
        ("colour: blue\n", "redwatch.yaml: colour: Extra inputs are not permitted"),
        ("budget: {queries: 0}\n", "redwatch.yaml: budget.queries: Input should be greater"),
        ("fail_on: urgent\n", "redwatch.yaml: fail_on: unknown severity 'urgent'"),
        ("image_shape: [1, 0, 28]\n", "redwatch.yaml: image_shape: every dimension"),
        ("probes: {evasion.pgd: 3}\n", "redwatch.yaml: probes.evasion.pgd: Input should be"),
        ("- just\n- a list\n", "redwatch.yaml: expected a mapping of settings, got list"),
        ("budget: [1,\n", "redwatch.yaml: not valid YAML (line 2, column 1:"),
    ],
)
def test_invalid_project_file_is_one_line_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("redwatch.yaml").write_text(text)
    with pytest.raises(UsageError) as caught:
        load_project_config(Path("redwatch.yaml"))
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_several_errors_are_counted_on_the_same_line(tmp_path: Path) -> None:
    path = tmp_path / "redwatch.yaml"
    path.write_text("label: [1]\nfail_on: 3\ncolour: red\n")
    with pytest.raises(UsageError, match=r"redwatch\.yaml: fail_on: .* \(and 2 more\)$"):
        load_project_config(path)


def test_named_file_that_is_missing_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"missing\.yaml: file not found$"):
        load_project_config(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match="not a file"):
        load_project_config(tmp_path)


def test_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "redwatch.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UsageError, match="cannot read file"):
        load_project_config(path)

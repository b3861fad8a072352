"""Optional-stack guard: loud skip naming the extra, failure under CI."""

import pytest

from redwatch.testing.requirements import require


def test_present_module_is_returned() -> None:
    assert require("json", "dev").dumps([1]) == "[1]"


def test_missing_module_skips_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"install redwatch\[torch\]"):
        require("redwatch_no_such_module", "torch")


def test_missing_module_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="redwatch_no_such_module"):
        require("redwatch_no_such_module", "torch")

"""The JSONPath subset used to read endpoint answers."""

from __future__ import annotations

import pytest

from redwatch.exceptions import UsageError
from redwatch.targets.jsonpath import JsonPath, PathMissingError

DOC = {"a": {"b": [1, 2]}, "rows": [{"p": [0.1, 0.9]}, {"p": [0.7, 0.3]}], "odd key": 5}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.a.b", [1, 2]),
        ("$.a.b[-1]", 2),
        ("$.rows[*].p", [[0.1, 0.9], [0.7, 0.3]]),
        ("$.rows.*.p[0]", [0.1, 0.7]),
        ("$['odd key']", 5),
    ],
)
def test_find(path: str, expected: object) -> None:
    assert JsonPath.parse(path).find(DOC) == expected


def test_top_level_index_and_missing_paths() -> None:
    assert JsonPath.parse("$[0]").find([[0.2, 0.8]]) == [0.2, 0.8]
    with pytest.raises(PathMissingError, match=r"\$.a.c does not exist"):
        JsonPath.parse("$.a.c").find(DOC)
    with pytest.raises(PathMissingError, match=r"\$.a.b\[5\]"):
        JsonPath.parse("$.a.b[5]").find(DOC)
    with pytest.raises(UsageError, match="must start with"):
        JsonPath.parse("a.b")
    with pytest.raises(UsageError, match="cannot read"):
        JsonPath.parse("$.a..b")

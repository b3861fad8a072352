"""Shared report helpers: plain JSON conversion, metric splitting, safe links."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import ReportError
from redwatch.findings import Category, Severity
from redwatch.reports.document import brief, format_value, local_href, plain, split_metrics


class _Color(Enum):
    RED = "red"


def test_plain_converts_numpy_and_friends() -> None:
    value = {
        1: np.float32(0.5),
        "a": (np.int64(3), np.bool_(True)),
        "arr": np.array([[1.0, np.nan]]),
        "sev": Severity.HIGH,
        "cat": Category.EVASION,
        "enum": _Color.RED,
        "path": Path("evidence/x.npz"),
        "set": {3, 1},
        "inf": float("inf"),
    }
    assert plain(value) == {
        "1": 0.5,
        "a": [3, True],
        "arr": [[1.0, None]],
        "sev": "high",
        "cat": "evasion",
        "enum": "red",
        "path": "evidence/x.npz",
        "set": [1, 3],
        "inf": None,
    }


def test_plain_refuses_unknown_objects() -> None:
    with pytest.raises(ReportError, match="type complex"):
        plain({"x": 1j})


def test_split_metrics() -> None:
    view = split_metrics(
        {
            "a": 1,
            "nested": {"b": 0.5, "deeper": {"c": "x"}},
            "rows": [{"k": 1}, {"k": 2, "m": 3}],
            "list": [1, 2],
            "empty": [],
        }
    )
    assert view.scalars == [("a", 1), ("nested.b", 0.5), ("nested.deeper.c", "x")]
    assert [(t.name, t.columns, t.rows) for t in view.tables] == [
        ("rows", ["k", "m"], [[1, None], [2, 3]])
    ]
    assert view.other == [("list", "[1,2]"), ("empty", "[]")]
    assert brief({"n": 3, "rows": [{"k": 1}]}) == "n=3, rows: 1 rows"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (True, "true"), (3, "3"), (0.123456, "0.1235"), (1e-7, "1e-07"), ("s", "s")],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_value_cuts_long_lists() -> None:
    assert format_value(list(range(10))) == "[0,1,2,3,4,5,6,7,8,9]"
    assert format_value(list(range(64))) == "[0,1,2,3,4,5,6,7,8,9,… (64 items)]"


@pytest.mark.parametrize(
    ("path", "href"),
    [
        ("evidence/abc/adversarial.npz", "evidence/abc/adversarial.npz"),
        ("evidence\\abc\\x.npz", "evidence/abc/x.npz"),
        ("javascript:alert(1)", None),
        ("https://evil.example/x", None),
        ("//evil.example/x", None),
        ("", None),
        (None, None),
    ],
)
def test_local_href(path: str | None, href: str | None) -> None:
    assert local_href(path) == href

"""Quarantine split: flagged + clean = input, file order kept, values copied as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redwatch.data.quarantine import clean_path, split_rows, write_quarantine
from redwatch.exceptions import DataError

CSV = 'a,b,label\n1.10,"x, y",cat\n\n2,0003,dog\n3.0,"q""uote",cat\n4,5,dog\n'


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n)))))
def test_split_is_exact_and_ordered(case: tuple[int, set[int]]) -> None:
    n, marked = case
    marked = {r for r in marked if r < n}
    records = [[str(i), f"v{i}"] for i in range(n)]
    flagged, clean = split_rows(records, marked)
    assert len(flagged) + len(clean) == n
    assert [int(r[0]) for r in flagged] == sorted(marked)
    assert [int(r[0]) for r in clean] == [i for i in range(n) if i not in marked]


def test_files_keep_header_text_and_order(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text(CSV, encoding="utf-8")
    q, c = write_quarantine(src, [2, 0], tmp_path / "out" / "q.csv", expected_rows=4)
    assert c == clean_path(q) == tmp_path / "out" / "q.clean.csv"
    assert q.read_text() == 'a,b,label\n1.10,"x, y",cat\n3.0,"q""uote",cat\n'
    assert c.read_text() == "a,b,label\n2,0003,dog\n4,5,dog\n"


def test_row_count_mismatch_and_bad_rows_write_nothing(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text(CSV, encoding="utf-8")
    with pytest.raises(DataError, match="cannot split it exactly"):
        write_quarantine(src, [0], tmp_path / "q.csv", expected_rows=5)
    with pytest.raises(DataError, match="row 9 is outside"):
        write_quarantine(src, [9], tmp_path / "q.csv", expected_rows=4)
    with pytest.raises(DataError, match="overwrite the input"):
        write_quarantine(src, [0], tmp_path / "data.csv", expected_rows=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]

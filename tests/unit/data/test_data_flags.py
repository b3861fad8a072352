"""merge_reports: one flag per row with the highest score and every reason, in row order."""

from __future__ import annotations

from redwatch.data.flags import DetectorReport, RowFlag, merge_reports


def test_merge_keeps_max_score_and_all_reasons_in_row_order() -> None:
    a = DetectorReport("a", (RowFlag(5, 0.3, ("x",)), RowFlag(1, 0.9, ("y",))), {})
    b = DetectorReport("b", (RowFlag(5, 0.7, ("z", "x")),), {"k": 1})
    merged = merge_reports([a, b])
    assert [f.row for f in merged] == [1, 5]
    assert merged[1] == RowFlag(5, 0.7, ("x", "z"))
    assert merged[0].to_dict() == {"row": 1, "score": 0.9, "reasons": ["y"]}


def test_merge_of_nothing_is_empty() -> None:
    assert merge_reports([DetectorReport("a", (), {})]) == []

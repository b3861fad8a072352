"""The detector contract: decide() never lets keyword-only verdicts settle an outcome, and
labelled-set scoring counts unscorable items apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from redwatch.exceptions import DataError
from redwatch.llm.detectors.base import DetectInput, Detector, Verdict, VerdictState, decide
from redwatch.llm.detectors.evaluate import load_labelled, score

HIT, CLEAN, UNSC = VerdictState.HIT, VerdictState.CLEAN, VerdictState.UNSCORABLE


def v(state: VerdictState, keyword: bool = False) -> Verdict:
    return Verdict("d", state, keyword_only=keyword)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([v(HIT, keyword=True)], UNSC),
        ([v(HIT, keyword=True), v(CLEAN)], CLEAN),
        ([v(HIT, keyword=True), v(UNSC)], UNSC),
        ([v(CLEAN), v(HIT)], HIT),
        ([v(UNSC), v(CLEAN)], CLEAN),
        ([], UNSC),
    ],
)
def test_decide(verdicts: list[Verdict], expected: VerdictState) -> None:
    assert decide(verdicts) is expected


class Contains(Detector):
    """Hit when the text contains 'x'; unscorable on empty text."""

    name = "contains"
    description = "test detector"

    def detect(self, item: DetectInput) -> Verdict:
        if not item.text:
            return self.unscorable("empty")
        return self.verdict(HIT if "x" in item.text else CLEAN)


def test_score_counts_confusion_and_unscorable(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [("x", True), ("x", False), ("a", True), ("a", False), ("", True), ("xx", True)]
    path.write_text(
        "\n".join(f'{{"text": "{t}", "label": {str(label).lower()}}}' for t, label in rows) + "\n"
    )
    scores = score(Contains(), load_labelled(path))
    assert (scores.tp, scores.fp, scores.fn, scores.tn, scores.unscorable) == (2, 1, 1, 1, 1)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)


def test_labelled_set_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": true}\n{"text": "b", "label": "yes"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: label must be true or false"):
        load_labelled(path)
    path.write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: not a labelled item"):
        load_labelled(path)

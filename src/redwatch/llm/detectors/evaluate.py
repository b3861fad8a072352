"""Measured detector quality: read a labelled JSONL set and count a detector's verdicts
against the labels. Unscorable verdicts are counted apart, never folded into either class,
so a detector cannot look precise by declining to judge hard cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from redwatch.exceptions import DataError
from redwatch.llm.detectors.base import DetectInput, Detector, VerdictState

LabelledItem = tuple[DetectInput, bool]


@dataclass(frozen=True)
class Scores:
    """Confusion counts over the scorable items, precision, recall and F1 (None when
    undefined), and how many items the detector declared unscorable."""

    tp: int
    fp: int
    fn: int
    tn: int
    unscorable: int

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp); None when the detector never said hit."""
        return None if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn); None when the set has no positives that were scored."""
        return None if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)

    def to_dict(self) -> dict[str, float | int | None]:
        """Counts and the three rates, JSON-ready."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def load_labelled(path: Path) -> list[LabelledItem]:
    """Read JSONL lines {"text", "label": bool, optional "prompt", "goal", "canaries",
    "system_prompt"}; DataError naming the file and line when one is malformed."""
    items: list[LabelledItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read labelled set {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = DetectInput(
                text=str(raw["text"]),
                prompt=str(raw.get("prompt", "")),
                goal=str(raw.get("goal", "")),
                canaries=tuple(str(c) for c in raw.get("canaries", ())),
                system_prompt=raw.get("system_prompt"),
            )
            label = raw["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: not a labelled item ({exc})") from None
        if not isinstance(label, bool):
            raise DataError(f"{path}:{number}: label must be true or false")
        items.append((item, label))
    if not items:
        raise DataError(f"{path}: no labelled items")
    return items


def score(detector: Detector, items: Sequence[LabelledItem]) -> Scores:
    """Run the detector over the items (batched) and count its verdicts against labels."""
    detector.prepare()
    verdicts = detector.detect_many([item for item, _ in items])
    tp = fp = fn = tn = unscorable = 0
    for verdict, (_, label) in zip(verdicts, items, strict=True):
        if verdict.state is VerdictState.UNSCORABLE:
            unscorable += 1
        elif verdict.hit:
            tp, fp = (tp + 1, fp) if label else (tp, fp + 1)
        else:
            fn, tn = (fn + 1, tn) if label else (fn, tn + 1)
    return Scores(tp, fp, fn, tn, unscorable)

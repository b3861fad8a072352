"""The retraining half of `redwatch harden --drop-rows`: find the quarantined records in the
training CSV (exact record text, as a multiset), split the kept rows into training and
held-out parts, retrain with the target's recipe without the quarantine (and, as a control,
with it), and measure held-out accuracy and agreement with the quarantine."""

from __future__ import annotations

import csv
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.data.quarantine import read_records
from redwatch.exceptions import DataError
from redwatch.recipe import TrainRecipe
from redwatch.targets.base import Target
from redwatch.targets.detect import from_object

MAX_ACCURACY_DROP = 0.01  # the retrained model may lose at most 1 point of held-out accuracy


@dataclass(frozen=True)
class Quarantine:
    """Row numbers of the data file (0-based, file order): quarantined and kept."""

    dropped: np.ndarray
    kept: np.ndarray


def match_quarantine(data: Path, quarantine: Path, n_rows: int) -> Quarantine:
    """The data rows the quarantine file names, matched by exact record text; two identical
    quarantined records take two identical data rows. DataError on a missing or empty file, a
    different header, or a record the data does not hold (often enough)."""
    header, records = read_records(data)
    if len(records) != n_rows:
        raise DataError(
            f"{data}: {len(records)} CSV records but {n_rows} data rows were read; "
            "cannot match quarantined records exactly"
        )
    q_header, q_records = numbered_records(quarantine)
    if q_header != header:
        raise DataError(
            f"{quarantine} has a different header than {data}; pass the file that "
            f"`redwatch data scan {data} --quarantine` wrote"
        )
    if not q_records:
        raise DataError(f"{quarantine} holds no quarantined rows: nothing to drop")
    where: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
    for row, record in enumerate(records):
        where[tuple(record)].append(row)
    dropped = []
    for line, record in q_records:
        rows = where.get(tuple(record))
        if not rows:
            raise DataError(
                f"{quarantine} line {line}: record not found in {data} "
                "(or quarantined more often than it occurs there)"
            )
        dropped.append(rows.popleft())
    gone = np.sort(np.asarray(dropped, dtype=np.int64))
    return Quarantine(gone, np.setdiff1d(np.arange(n_rows), gone))


def numbered_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, record) pairs of a CSV; blank lines skipped."""
    if not path.is_file():
        raise DataError(f"quarantine file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            rows = [(reader.line_num, r) for r in reader if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read quarantine file {path}: {exc}") from None
    if not rows:
        raise DataError(f"quarantine file {path} is empty")
    return rows[0][1], rows[1:]


def split_kept(
    y: np.ndarray, kept: np.ndarray, holdout: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) among the kept rows, seeded and stratified like the
    adversarial harden split; DataError when too few rows are left."""
    n_eval = round(holdout * len(kept))
    if n_eval < 1 or len(kept) - n_eval < 2:
        raise DataError(
            f"too few rows ({len(kept)}) are left after the quarantine to hold out evaluation rows"
        )
    from sklearn.model_selection import train_test_split

    labels = y[kept]
    counts = np.bincount(labels)
    strat = labels if counts[counts > 0].min() >= 2 and n_eval >= len(counts) else None
    tr, ev = train_test_split(kept, test_size=n_eval, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(ev)


def declare_classes(target: Target, x: np.ndarray, y: np.ndarray) -> None:
    """Give a target that does not declare its class count (a torch module loaded from a
    file) the width of its output, which the recipe needs; DataError when a label is beyond
    it."""
    k = target.capabilities.n_classes
    if k is None:
        k = int(target.predict_proba(x[:1]).shape[1]) if target.capabilities.scores else 0
        k = max(k, int(y.max()) + 1)
        target.capabilities = replace(target.capabilities, n_classes=k)
    if int(y.max()) >= k:
        raise DataError(f"label index {int(y.max())} is beyond the model's {k} classes")


def restore_labels(model: Any, classes: np.ndarray | None) -> bool:
    """Give a scikit-learn API model fitted on class indices the original model's label
    values (its `classes_`), so that the saved model answers like the one it replaces.
    False when the model keeps its index labels (e.g. a read-only `classes_`)."""
    if classes is None or not hasattr(model, "predict") or hasattr(model, "forward"):
        return classes is None
    if np.array_equal(np.asarray(classes), np.arange(len(classes))):
        return True
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    current = getattr(final, "classes_", None)
    if current is None or not np.array_equal(np.asarray(current), np.arange(len(classes))):
        return False
    try:
        final.classes_ = np.asarray(classes)
    except AttributeError:
        return False
    return True


@dataclass(frozen=True)
class Figures:
    """Held-out accuracy and agreement with the quarantine (the share of quarantined rows
    where a model predicts the quarantined label) of three models: `before` the user's model,
    `control` the recipe retrained on the training part plus the quarantined rows, `after`
    the recipe retrained on the training part alone (the new model)."""

    accuracy_before: float
    accuracy_control: float
    accuracy_after: float
    agreement_before: float
    agreement_control: float
    agreement_after: float
    quarantined_rows: int
    kept_rows: int
    still_flagged: int = 0
    detectors: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Agreement with the quarantine fell below the user's model's, and held-out accuracy
        is at most 1 point below the control's (the user's model may have trained on the
        held-out rows; the control, like the new model, did not)."""
        return (
            self.agreement_after < self.agreement_before
            and self.accuracy_after >= self.accuracy_control - MAX_ACCURACY_DROP
        )

    @property
    def verdict(self) -> str:
        """One line for the console and the report."""
        word = "passed" if self.passed else "did not pass"
        return (
            f"drop-rows {word}: agreement with the quarantine {self.agreement_before:.1%} -> "
            f"{self.agreement_after:.1%}, held-out accuracy {self.accuracy_control:.1%} "
            f"(control) -> {self.accuracy_after:.1%}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with the verdict."""
        return {**asdict(self), "passed": self.passed, "verdict": self.verdict}


@dataclass(frozen=True)
class Retrained:
    """The new model (trained without the quarantine) and the control (trained with it)."""

    model: Any
    control: Any
    labels_restored: bool


def retrain(
    recipe: TrainRecipe,
    data: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray],
    classes: np.ndarray | None,
    seed: int,
) -> Retrained:
    """Fit the recipe from scratch on x[train] (the new model) and on x[train + dropped]
    (the control), same seed; data is (x, class indices), rows is (train, dropped)."""
    x, y = data
    train, dropped = rows
    model = recipe.fit(x[train], y[train], seed=seed)
    with_quarantine = np.sort(np.concatenate([train, dropped]))
    control = recipe.fit(x[with_quarantine], y[with_quarantine], seed=seed)
    restored = restore_labels(model, classes)
    restore_labels(control, classes)
    return Retrained(model, control, restored)


def as_target(model: Any, like: Target, restored: bool, shape: tuple[int, ...] | None) -> Target:
    """A retrained model as a Target that reads the user's label values like `like` does."""
    target = from_object(model, name="after", input_shape=shape)
    if not restored:
        target.classes = like.classes  # its scores stay in class-index order
    return target


def measure(
    models: tuple[Target, Target, Target],
    data: tuple[np.ndarray, np.ndarray],
    rows: tuple[np.ndarray, np.ndarray],
    kept_rows: int,
) -> Figures:
    """Figures of (before, control, after) on rows (held out, dropped) of data (x, y)."""
    x, y = data
    held, dropped = rows

    def share(target: Target, part: np.ndarray) -> float:
        return float(np.mean(target.predict(x[part]) == y[part]))

    before, control, after = models
    return Figures(
        accuracy_before=share(before, held),
        accuracy_control=share(control, held),
        accuracy_after=share(after, held),
        agreement_before=share(before, dropped),
        agreement_control=share(control, dropped),
        agreement_after=share(after, dropped),
        quarantined_rows=len(dropped),
        kept_rows=kept_rows,
    )

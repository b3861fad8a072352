"""Label errors and flips: out-of-sample class probabilities from stratified K-fold
cross-validation of a model redwatch trains, then cleanlab's confident learning.

Learners: gradient-boosted trees (`hgb`), a logistic regression on standardised features
(`logreg`), or their averaged probabilities (`ensemble`, the default): the two models' mistakes
are less correlated than either's with itself, so fewer clean rows look mislabelled
(bench/bench_data_labels.py measures all three against plain cleanlab).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.data.flags import DetectorReport, RowFlag
from redwatch.exceptions import DataError, UsageError

LEARNERS = ("ensemble", "hgb", "logreg")
DEFAULT_FOLDS = 5


def make_learner(name: str, seed: int) -> list[Any]:
    """The scikit-learn estimators whose out-of-fold probabilities are averaged."""
    hgb = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    table: dict[str, list[Any]] = {"hgb": [hgb], "logreg": [logreg], "ensemble": [hgb, logreg]}
    if name not in table:
        raise UsageError(f"unknown learner {name!r}; choose one of {', '.join(LEARNERS)}")
    return table[name]


def check_labels(y: np.ndarray, class_names: Sequence[str], folds: int) -> None:
    """DataError unless there are two classes or more, each with `folds` rows or more."""
    counts = np.bincount(y, minlength=len(class_names))
    if len(class_names) < 2:
        raise DataError(f"only one class ({class_names[0]!r}) in the label column")
    small = int(np.argmin(counts))
    if counts[small] < folds:
        raise DataError(
            f"class {class_names[small]!r} has {int(counts[small])} row(s); "
            f"{folds}-fold cross-validation needs at least {folds} per class"
        )


def out_of_fold_probabilities(
    x: np.ndarray, y: np.ndarray, estimators: Sequence[Any], folds: int, seed: int
) -> list[np.ndarray]:
    """Per estimator, each row's class probabilities from models that never saw it."""
    n_classes = int(y.max()) + 1
    probs = [np.zeros((len(y), n_classes)) for _ in estimators]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        for estimator, out in zip(estimators, probs, strict=True):
            out[test] = _fold_probabilities(estimator, x, y, train, test, n_classes)
    return probs


def _fold_probabilities(
    estimator: ClassifierMixin,
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
) -> np.ndarray:
    """Fit a clone on the training fold; probabilities on the test fold in all classes."""
    model = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x[train], y[train])
        part = model.predict_proba(x[test])
    full = np.zeros((len(test), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = part
    return full


def find_issues(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Row indices cleanlab's confident learning calls mislabelled, most certain first."""
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = find_label_issues(
            labels=y, pred_probs=probs, return_indices_ranked_by="self_confidence"
        )
    return np.asarray(ranked, dtype=int)


def detect_label_errors(
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    learner: str = "ensemble",
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
) -> DetectorReport:
    """Flag rows whose given label disagrees confidently with out-of-sample predictions.

    `y` holds class indices 0..K-1 into `class_names`; the score is 1 - p(given label)."""
    check_labels(y, class_names, folds)
    estimators = make_learner(learner, seed)
    probs = np.mean(out_of_fold_probabilities(x, y, estimators, folds, seed), axis=0)
    issues = find_issues(y, probs)
    flags = tuple(_flag(int(i), y, probs, class_names) for i in issues)
    accuracy = float(np.mean(probs.argmax(axis=1) == y))
    metrics: dict[str, Any] = {
        "learner": learner,
        "folds": folds,
        "out_of_fold_accuracy": round(accuracy, 4),
        "issues": len(flags),
        "issues_by_given_class": _per_class(y[issues], class_names),
    }
    return DetectorReport("label_errors", flags, metrics)


def _flag(row: int, y: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> RowFlag:
    """One flagged row: the given label, the likely one and its out-of-sample probability."""
    likely = int(np.argmax(probs[row]))
    reason = (
        f"label_issue: given {class_names[y[row]]}, likely {class_names[likely]} "
        f"(p={probs[row, likely]:.2f})"
    )
    return RowFlag(row, float(1.0 - probs[row, y[row]]), (reason,))


def _per_class(labels: np.ndarray, class_names: Sequence[str]) -> dict[str, int]:
    """Counts of flagged rows by their given class (classes with none left out)."""
    counts = np.bincount(labels.astype(int), minlength=len(class_names))
    return {str(class_names[i]): int(c) for i, c in enumerate(counts) if c}

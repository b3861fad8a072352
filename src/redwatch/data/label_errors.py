"""Label errors and flips: out-of-sample class probabilities from stratified K-fold
cross-validation, then cleanlab's confident learning, in two passes.

Learners: a logistic regression (`logreg`), an RBF support-vector machine with Platt-scaled
probabilities on at most 64 principal components (`svc`), gradient-boosted trees (`hgb`), their
default mix `ensemble` (logreg + svc: a linear and a local model make different mistakes), or
the user's own model (any scikit-learn-API estimator or PyTorch module, retrained per fold).
Images (an input shape is known) get a small CNN (`cnn`, data/cnn_probs.py), alone or averaged
with the default mix (`cnn+ensemble`, what `auto` picks for images; `auto` is `ensemble` for
tables).

A row is flagged when cleanlab calls it an issue or when models that never saw it give its label
less than 10 % probability. The second pass repeats the cross-validation with the first pass's
flags left out of every training fold: the cleaner models are surer of the true class, so flips
the first pass missed stand out (bench/bench_data_labels.py measures the gain). The image
learners make one pass: on MNIST the retrained CNN grew so sure that clean but unusual digits
fell under cleanlab's per-class thresholds, costing more precision than the recall it added."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from redwatch.data.flags import DetectorReport, RowFlag
from redwatch.exceptions import DataError, UsageError
from redwatch.recipe import TrainRecipe

TABLE_LEARNERS = ("ensemble", "logreg", "svc", "hgb")
IMAGE_LEARNERS = ("cnn", "cnn+ensemble")
LEARNERS = ("auto", *TABLE_LEARNERS, *IMAGE_LEARNERS)
IMAGE_DEFAULT = "cnn+ensemble"
TABLE_RULE = "prune_by_noise_rate"  # cleanlab's default: prune the estimated count per class pair
IMAGE_RULE = "confident_learning"  # off-diagonal of the confident joint: stricter on hard digits
DEFAULT_FOLDS = 5
LOW_PROBABILITY = 0.1
MAX_COMPONENTS = 64


def make_learner(name: str, seed: int, *, standardize: bool = True) -> list[Any]:
    """The scikit-learn estimators whose out-of-fold probabilities are averaged. Images keep
    their pixel scale (`standardize=False`): per-pixel scaling inflates empty borders."""
    if name not in TABLE_LEARNERS:
        raise UsageError(f"unknown learner {name!r}; choose one of {', '.join(LEARNERS)}")
    head = [StandardScaler()] if standardize else []
    logreg = make_pipeline(*head, LogisticRegression(max_iter=1000))
    svc = make_pipeline(
        *head, _Components(seed), SVC(probability=True, random_state=seed, cache_size=500)
    )
    hgb = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    table: dict[str, list[Any]] = {
        "ensemble": [logreg, svc],
        "logreg": [logreg],
        "svc": [svc],
        "hgb": [hgb],
    }
    return table[name]


class _Components(PCA):  # type: ignore[misc]
    """PCA onto at most MAX_COMPONENTS directions (fewer when the data has fewer columns):
    keeps the SVM fast on wide data such as images."""

    def __init__(self, random_state: int | None = None) -> None:
        super().__init__(n_components=None, random_state=random_state)

    def fit(self, x: Any, y: Any = None) -> _Components:
        """Pick the component count from the data, then fit the PCA."""
        self.n_components = min(MAX_COMPONENTS, *np.shape(x))
        super().fit(x, y)
        return self

    def fit_transform(self, x: Any, y: Any = None) -> Any:
        """Fit (with the data-dependent component count) and project."""
        return self.fit(x, y).transform(x)


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
    x: np.ndarray,
    y: np.ndarray,
    recipes: Sequence[TrainRecipe],
    folds: int,
    seed: int,
    exclude: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Per recipe, each row's class probabilities from models that never saw it; rows in
    `exclude` (a mask) are left out of every training fold but still get probabilities."""
    probs = [np.zeros((len(y), recipe.n_classes)) for recipe in recipes]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        if exclude is not None:
            train = train[~exclude[train]]
        for recipe, out in zip(recipes, probs, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = recipe.fit(x[train], y[train], seed=seed)
                out[test] = recipe.predict_proba(model, x[test])
    return probs


def find_issues(y: np.ndarray, probs: np.ndarray, rule: str = TABLE_RULE) -> np.ndarray:
    """Rows cleanlab's confident learning calls mislabelled (`rule` is its filter_by), plus
    rows whose label has under LOW_PROBABILITY out-of-sample probability; most certain first."""
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = find_label_issues(labels=y, pred_probs=probs, filter_by=rule)
        issue = np.asarray(found, dtype=bool)
    given = probs[np.arange(len(y)), y]
    rows = np.flatnonzero(issue | (given < LOW_PROBABILITY))
    return rows[np.argsort(given[rows], kind="stable")]


def detect_label_errors(
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    learner: str = "auto",
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    model: Any = None,
    input_shape: tuple[int, ...] | None = None,
    standardize: bool = True,
) -> DetectorReport:
    """Flag rows whose given label disagrees confidently with out-of-sample predictions.

    `y` holds class indices 0..K-1 into `class_names`; the score is 1 - p(given label).
    `learner` is one of LEARNERS (`auto`: the CNN mix for images, `ensemble` for tables);
    `model` (an sklearn-API estimator or a torch module, retrained per fold) replaces the
    built-in learners; `input_shape` is the image shape (also what a torch model reshapes
    rows to)."""
    check_labels(y, class_names, folds)
    name = resolve_learner(learner, input_shape) if model is None else "user"
    groups = _recipe_groups(x, len(class_names), name, seed, model, input_shape, standardize)
    image = name in IMAGE_LEARNERS
    passes, rule = (1, IMAGE_RULE) if image else (2, TABLE_RULE)
    first = _mean_probs(x, y, groups, folds, seed, None)
    found = np.zeros(len(y), dtype=bool)
    found[find_issues(y, first, rule)] = True
    probs, issues = first, np.flatnonzero(found)
    if passes == 2:
        second = _mean_probs(x, y, groups, folds, seed, found)
        probs = np.where(found[:, None], first, second)
        issues = np.union1d(issues, find_issues(y, second, rule))
    issues = issues[np.argsort(probs[issues, y[issues]], kind="stable")]
    flags = tuple(_flag(int(i), y, probs, class_names) for i in issues)
    metrics: dict[str, Any] = {
        "learner": f"user model {type(model).__name__}" if model is not None else name,
        "folds": folds,
        "passes": passes,
        "cleanlab_filter": rule,
        "out_of_fold_accuracy": round(float(np.mean(first.argmax(axis=1) == y)), 4),
        "first_pass_issues": int(found.sum()),
        "issues": len(flags),
        "issues_by_given_class": _per_class(y[issues], class_names),
    }
    return DetectorReport("label_errors", flags, metrics)


def resolve_learner(learner: str, input_shape: tuple[int, ...] | None) -> str:
    """The learner actually used: `auto` is IMAGE_DEFAULT for images and `ensemble` for
    tables; an image learner without an image shape is a UsageError."""
    if learner not in LEARNERS:
        raise UsageError(f"unknown learner {learner!r}; choose one of {', '.join(LEARNERS)}")
    if learner == "auto":
        return IMAGE_DEFAULT if input_shape is not None else "ensemble"
    if learner in IMAGE_LEARNERS and input_shape is None:
        raise UsageError(f"learner {learner!r} needs images (--kind image)")
    return learner


def _recipe_groups(
    x: np.ndarray,
    n_classes: int,
    name: str,
    seed: int,
    model: Any,
    input_shape: tuple[int, ...] | None,
    standardize: bool,
) -> list[list[TrainRecipe]]:
    """Groups of recipes: probabilities are averaged within a group, then across groups (so
    `cnn+ensemble` weighs the CNN as much as logistic regression and SVM together)."""
    if model is not None:
        return [[TrainRecipe(model, n_classes, input_shape=input_shape)]]
    groups: list[list[TrainRecipe]] = []
    if name in IMAGE_LEARNERS:
        from redwatch.data.cnn_probs import cnn_recipe

        assert input_shape is not None
        groups.append([cnn_recipe(x, n_classes, input_shape)])
    table = "ensemble" if name == "cnn+ensemble" else name
    if table in TABLE_LEARNERS:
        templates = make_learner(table, seed, standardize=standardize)
        groups.append([TrainRecipe(t, n_classes) for t in templates])
    return groups


def _mean_probs(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[Sequence[TrainRecipe]],
    folds: int,
    seed: int,
    exclude: np.ndarray | None,
) -> np.ndarray:
    """Every recipe's out-of-fold probabilities, averaged within groups, then across."""
    flat = [recipe for group in groups for recipe in group]
    probs = out_of_fold_probabilities(x, y, flat, folds, seed, exclude)
    means, start = [], 0
    for group in groups:
        means.append(np.mean(probs[start : start + len(group)], axis=0))
        start += len(group)
    return np.asarray(np.mean(means, axis=0))


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

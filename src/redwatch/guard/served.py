"""A loaded Target seen through the scikit-learn API that the guard serves, shared by
`redwatch guard --model` and the service's in-process guards: `predict` in the model's own
label values, `classes_`, `n_features_in_` (so that rows of the wrong width are a 400, not a
model crash) and, for a model that gives scores, `predict_proba`."""

from __future__ import annotations

import numpy as np

from redwatch.targets.base import Target


class ServedModel:
    """A Target through the scikit-learn API: labels, `classes_`, `n_features_in_`. A
    labels-only model lacks `predict_proba`, so /predict_proba answers 400 for it."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def classes_(self) -> np.ndarray | None:
        """The model's label values, when it declares them."""
        return self.target.classes

    @property
    def n_features_in_(self) -> int | None:
        """The number of features the model takes, when it records it."""
        return self.target.n_features

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels in the model's own values (class indices when it has no classes)."""
        index = self.target.predict(np.asarray(x, dtype=np.float64))
        classes = self.classes_
        return index if classes is None else classes[index]


class ScoringServedModel(ServedModel):
    """A ServedModel whose model gives probabilities: adds `predict_proba`."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, (n, k) floats."""
        return self.target.predict_proba(np.asarray(x, dtype=np.float64))


def served_model(target: Target) -> ServedModel:
    """The adapter for a target: with predict_proba only when it gives scores."""
    return ScoringServedModel(target) if target.capabilities.scores else ServedModel(target)

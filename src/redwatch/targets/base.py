"""Target base class: one adapter per model kind. It counts queries (rows sent to the model)
and enforces a hard query budget, so every probe and attack is metered the same way; an
attack can also be given a deadline, after which its queries are refused like a spent
budget, so long attacks stop at a probe's time share."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from redwatch.attacks.losses import check_loss
from redwatch.exceptions import DataError, ProbeError, QueryBudgetExceeded
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.spec import InputSpec


class Target(ABC):
    """A model under test. Subclasses implement `_predict_proba` (scores) or `_predict_labels`
    (labels only) and, for white-box targets, `_loss_gradient`.

    Labels are always class indices 0..K-1; `classes` holds the model's own label values and
    `encode_labels` maps user labels onto indices.
    """

    name: str
    capabilities: Capabilities
    classes: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None  # names the model was fitted with, if known
    n_features: int | None = None  # columns the model expects, if known
    query_budget: int | None = None
    gradient_losses: tuple[str, ...] = ("ce",)  # losses loss_value_and_gradient supports

    queries: int = 0
    _limit: int | None = None
    _deadline: float | None = None  # time.monotonic() after which queries are refused

    @property
    def kind(self) -> str:
        """Short adapter name for reports and the store: "sklearn", "torch", "http" …"""
        return type(self).__name__.removesuffix("Target").lower() or "model"

    def mark_artifact(self) -> None:
        """Record that the target was loaded from a file that artifact probes can inspect."""
        self.capabilities = replace(self.capabilities, artifact=True)

    def set_input_spec(self, spec: InputSpec) -> None:
        """Attach the input description built from data and the user's declarations."""
        self.capabilities = replace(self.capabilities, input_spec=spec)

    # -- metering -------------------------------------------------------------------------
    @property
    def remaining(self) -> int | None:
        """Queries left before the tightest limit (hard budget or probe limit); None: no limit."""
        caps = [c for c in (self.query_budget, self._limit) if c is not None]
        return None if not caps else max(0, min(caps) - self.queries)

    def _spend(self, n: int) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise QueryBudgetExceeded(f"time budget spent on {self.name}: {n} more queries asked")
        left = self.remaining
        if left is not None and n > left:
            raise QueryBudgetExceeded(
                f"query budget exhausted on {self.name}: {self.queries} used, {n} more asked"
            )
        self.queries += n

    @contextmanager
    def limit(self, n: int | None) -> Iterator[None]:
        """Cap the queries spent inside the block to n (None: no extra cap)."""
        previous = self._limit
        self._limit = None if n is None else self.queries + n
        if previous is not None and self._limit is not None:
            self._limit = min(previous, self._limit)
        try:
            yield
        finally:
            self._limit = previous

    @contextmanager
    def until(self, deadline: float | None) -> Iterator[None]:
        """Refuse queries inside the block once time.monotonic() passes `deadline` (None: no
        extra cap). Attacks stop there as at a spent budget and keep what they found; the
        queries that confirm their examples run after the block."""
        previous = self._deadline
        if deadline is not None:
            self._deadline = deadline if previous is None else min(previous, deadline)
        try:
            yield
        finally:
            self._deadline = previous

    # -- queries --------------------------------------------------------------------------
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, K). Needs the `scores` capability."""
        if not self.capabilities.scores:
            raise ProbeError(f"target {self.name} exposes labels only, not scores")
        x = self._checked(x)
        self._spend(len(x))
        return np.asarray(self._predict_proba(x), dtype=np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class indices, shape (n,)."""
        x = self._checked(x)
        self._spend(len(x))
        if self.capabilities.scores:
            return np.asarray(self._predict_proba(x)).argmax(axis=1)
        return np.asarray(self._predict_labels(x), dtype=np.int64)

    def loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of the cross-entropy loss w.r.t. the input. Needs `gradients`."""
        if not self.capabilities.gradients:
            raise ProbeError(f"target {self.name} does not expose gradients")
        x = self._checked(x)
        self._spend(len(x))
        return np.asarray(self._loss_gradient(x, np.asarray(y, dtype=np.int64)), np.float64)

    def loss_value_and_gradient(
        self, x: np.ndarray, y: np.ndarray, loss: str = "ce", y_target: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss values (n,) and input gradients (n, d) of "ce" or "dlr"; with y_target,
        the targeted loss (descended by the attacker; see redwatch.attacks.losses). One query
        per row. Needs `gradients`; a loss outside `gradient_losses` raises ProbeError."""
        if not self.capabilities.gradients:
            raise ProbeError(f"target {self.name} does not expose gradients")
        loss = check_loss(loss)
        if loss not in self.gradient_losses:
            raise ProbeError(f"target {self.name} has no {loss.upper()} loss gradients")
        x = self._checked(x)
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        t = None if y_target is None else np.asarray(y_target, dtype=np.int64).reshape(-1)
        if len(y) != len(x) or (t is not None and len(t) != len(x)):
            raise ProbeError(f"{len(x)} inputs need as many labels (and targets)")
        self._spend(len(x))
        values, grads = self._loss_value_and_gradient(x, y, loss, t)
        return np.asarray(values, np.float64), np.asarray(grads, np.float64)

    def encode_labels(self, y: np.ndarray) -> np.ndarray:
        """Map the user's label values onto class indices 0..K-1; DataError if one is unknown."""
        y = np.asarray(y)
        if self.classes is None:
            if y.dtype.kind not in "iub" and not np.all(np.mod(y.astype(float), 1) == 0):
                raise DataError("labels must be class indices for this target")
            return y.astype(np.int64)
        lookup = {self._key(c): i for i, c in enumerate(self.classes)}
        try:
            return np.array([lookup[self._key(v)] for v in y], dtype=np.int64)
        except KeyError as exc:
            known = ", ".join(str(c) for c in self.classes)
            raise DataError(
                f"label {exc.args[0]!r} is not a class of the model ({known})"
            ) from None

    @staticmethod
    def _key(value: object) -> object:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if not isinstance(value, bytes) else value.decode()

    def _checked(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        spec = self.capabilities.input_spec
        if spec is not None:
            spec.check(x)
        elif not np.all(np.isfinite(x)):
            raise DataError("input contains NaN or infinite values")
        return x

    # -- to implement ---------------------------------------------------------------------
    @abstractmethod
    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Scores for a validated 2-D float batch (labels-only targets raise ProbeError)."""

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict_proba(x)).argmax(axis=1)

    def _loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise ProbeError(f"target {self.name} does not expose gradients")

    def _loss_value_and_gradient(
        self, x: np.ndarray, y: np.ndarray, loss: str, y_target: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """CE only: the gradient from `_loss_gradient`, the value from `_predict_proba`."""
        labels = y if y_target is None else y_target
        grad = self._loss_gradient(x, labels)
        proba = np.asarray(self._predict_proba(x), dtype=np.float64)
        values = -np.log(np.clip(proba[np.arange(len(x)), labels], 1e-300, None))
        return values, grad

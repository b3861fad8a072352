"""InputSpec: what a valid input looks like (names, bounds, integer/categorical/immutable
features, image shape). Built from data, refined by what the user declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from redwatch.exceptions import DataError, UsageError


@dataclass(frozen=True)
class InputSpec:
    """Feature-space description shared by attacks (feasibility) and the guard (validation).

    Indices refer to columns of the flattened input. `categorical` maps a column to its
    allowed values; `image_shape` (e.g. (1, 28, 28)) is set for image models.
    """

    feature_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    integer: frozenset[int] = frozenset()
    categorical: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    immutable: frozenset[int] = frozenset()
    image_shape: tuple[int, ...] | None = None

    @property
    def n_features(self) -> int:
        """Number of (flattened) input columns."""
        return len(self.feature_names)

    @property
    def is_image(self) -> bool:
        """True when the model takes images."""
        return self.image_shape is not None

    @property
    def scale(self) -> np.ndarray:
        """Per-feature range (upper - lower), at least a tiny positive number."""
        return np.maximum(self.upper - self.lower, 1e-12)

    @property
    def mutable_mask(self) -> np.ndarray:
        """Boolean mask of the features an attacker may change."""
        mask = np.ones(self.n_features, dtype=bool)
        mask[list(self.immutable)] = False
        return mask

    @classmethod
    def from_data(
        cls,
        x: np.ndarray,
        feature_names: Sequence[str] | None = None,
        *,
        image_shape: tuple[int, ...] | None = None,
        max_categories: int = 0,
    ) -> InputSpec:
        """Infer bounds and integer columns from a sample (rows x features).

        Columns whose values are all whole numbers are marked integer; with
        `max_categories` > 0, integer columns with at most that many distinct values become
        categorical.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise DataError(f"expected a non-empty 2-D table, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise DataError("data contains NaN or infinite values")
        names = (
            tuple(feature_names)
            if feature_names is not None
            else tuple(f"x{i}" for i in range(x.shape[1]))
        )
        if len(names) != x.shape[1]:
            raise DataError(f"{len(names)} feature names for {x.shape[1]} columns")
        integer = frozenset(i for i in range(x.shape[1]) if np.all(np.equal(np.mod(x[:, i], 1), 0)))
        categorical: dict[int, tuple[float, ...]] = {}
        if max_categories > 0:
            for i in sorted(integer):
                values = np.unique(x[:, i])
                if len(values) <= max_categories:
                    categorical[i] = tuple(float(v) for v in values)
        return cls(
            feature_names=names,
            lower=x.min(axis=0),
            upper=x.max(axis=0),
            integer=integer,
            categorical=categorical,
            image_shape=image_shape,
        )

    def declare(
        self,
        *,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        integer: Sequence[str] = (),
        immutable: Sequence[str] = (),
        categorical: Mapping[str, Sequence[float]] | None = None,
    ) -> InputSpec:
        """Return a copy refined by the user's declarations (feature names, not indices)."""
        lower, upper = self.lower.copy(), self.upper.copy()
        for name, (lo, hi) in (bounds or {}).items():
            i = self.index(name)
            if lo > hi:
                raise UsageError(f"bounds for {name!r}: lower {lo} is above upper {hi}")
            lower[i], upper[i] = lo, hi
        cats = dict(self.categorical)
        for name, values in (categorical or {}).items():
            cats[self.index(name)] = tuple(float(v) for v in values)
        return replace(
            self,
            lower=lower,
            upper=upper,
            integer=self.integer | {self.index(n) for n in integer},
            immutable=self.immutable | {self.index(n) for n in immutable},
            categorical=cats,
        )

    def index(self, name: str) -> int:
        """Column index of a feature name; UsageError naming the feature if unknown."""
        try:
            return self.feature_names.index(name)
        except ValueError:
            raise UsageError(f"unknown feature {name!r}") from None

    def project(self, x_adv: np.ndarray, x_orig: np.ndarray) -> np.ndarray:
        """Make candidate inputs feasible: restore immutable features, clip to bounds,
        round integer features and snap categorical ones to the nearest allowed value."""
        out = np.clip(np.asarray(x_adv, dtype=np.float64), self.lower, self.upper)
        if self.immutable:
            idx = sorted(self.immutable)
            out[:, idx] = x_orig[:, idx]
        if self.integer:
            idx = sorted(self.integer)
            out[:, idx] = np.clip(np.round(out[:, idx]), self.lower[idx], self.upper[idx])
        for i, values in self.categorical.items():
            allowed = np.asarray(values)
            nearest = np.abs(out[:, i, None] - allowed[None, :]).argmin(axis=1)
            out[:, i] = allowed[nearest]
        return out

    def check(self, x: np.ndarray) -> None:
        """Raise DataError naming the problem if x does not fit this spec."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(
                f"input has {x.shape[-1] if x.ndim else 0} columns, model expects {self.n_features}"
            )
        if not np.all(np.isfinite(x)):
            raise DataError("input contains NaN or infinite values")

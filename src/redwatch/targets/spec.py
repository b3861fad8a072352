"""InputSpec: what a valid input looks like (names, bounds, integer/categorical/immutable
features, image shape). Built from data, refined by what the user declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from redwatch.exceptions import DataError, UsageError
from redwatch.targets.constraints import LinearRelation, lone_feature, parse_relation

_REPAIR_STEPS = 30  # bisection steps of the feasibility repair (2**-30 of the segment)


@dataclass(frozen=True)
class InputSpec:
    """Feature-space description shared by attacks (feasibility) and the guard (validation).

    Indices refer to columns of the flattened input. `categorical` maps a column to its
    allowed values; `image_shape` (e.g. (1, 28, 28)) is set for image models. `onehot` lists
    groups of 0/1 columns with exactly one 1; `relations` are linear constraints between
    columns; `derived` columns are recomputed from an equality (the attacker does not set
    them); `cost` is the per-feature cost of a one-unit change (None: 1/range).
    """

    feature_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    integer: frozenset[int] = frozenset()
    categorical: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    immutable: frozenset[int] = frozenset()
    image_shape: tuple[int, ...] | None = None
    onehot: tuple[tuple[int, ...], ...] = ()
    relations: tuple[LinearRelation, ...] = ()
    cost: np.ndarray | None = None
    derived: frozenset[int] = frozenset()

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
        """Boolean mask of the features an attacker may change (not immutable, not derived)."""
        mask = np.ones(self.n_features, dtype=bool)
        mask[list(self.immutable | self.derived)] = False
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
        onehot: Sequence[Sequence[str]] = (),
        constraints: Sequence[str] = (),
        cost: Mapping[str, float] | None = None,
    ) -> InputSpec:
        """Return a copy refined by the user's declarations (feature names, not indices).

        One-feature inequalities (`amount >= 0`) also tighten the bounds; an equality makes
        one of its columns derived (the feature alone on one side, else the last mutable one).
        """
        lower, upper = self.lower.copy(), self.upper.copy()
        for name, (lo, hi) in (bounds or {}).items():
            i = self.index(name)
            if lo > hi:
                raise UsageError(f"bounds for {name!r}: lower {lo} is above upper {hi}")
            lower[i], upper[i] = lo, hi
        cats = dict(self.categorical)
        for name, values in (categorical or {}).items():
            cats[self.index(name)] = tuple(float(v) for v in values)
        frozen = self.immutable | {self.index(n) for n in immutable}
        groups = self._onehot_groups(onehot)
        for group in groups:
            lower[list(group)], upper[list(group)] = 0.0, 1.0
        relations, derived = self._relations(constraints, frozen, lower, upper)
        return replace(
            self,
            lower=lower,
            upper=upper,
            integer=self.integer
            | {self.index(n) for n in integer}
            | {i for g in groups for i in g},
            immutable=frozen,
            categorical=cats,
            onehot=self.onehot + groups,
            relations=self.relations + relations,
            derived=self.derived | derived,
            cost=self._costs(cost, lower, upper),
        )

    def _onehot_groups(self, onehot: Sequence[Sequence[str]]) -> tuple[tuple[int, ...], ...]:
        """Column indices of declared one-hot groups (two or more distinct, unused columns)."""
        used = {i for g in self.onehot for i in g}
        groups = []
        for names in onehot:
            group = tuple(self.index(n) for n in names)
            if len(group) < 2 or len(set(group)) != len(group):
                raise UsageError(
                    f"one-hot group {list(names)}: needs two or more distinct features"
                )
            if used & set(group):
                raise UsageError(f"one-hot group {list(names)}: a feature is in two groups")
            used |= set(group)
            groups.append(group)
        return tuple(groups)

    def _relations(
        self,
        constraints: Sequence[str],
        frozen: frozenset[int],
        lower: np.ndarray,
        upper: np.ndarray,
    ) -> tuple[tuple[LinearRelation, ...], frozenset[int]]:
        """Parse constraints; tighten bounds (in place) from one-feature ones and pick the
        derived column of each equality."""
        relations: list[LinearRelation] = []
        derived = set(self.derived)
        for text in constraints:
            rel = parse_relation(text, self.feature_names)
            bound = rel.bound()
            if bound is not None:
                i, op, value = bound
                if op in (">=", "=="):
                    lower[i] = max(lower[i], value)
                if op in ("<=", "=="):
                    upper[i] = min(upper[i], value)
                if lower[i] > upper[i]:
                    raise UsageError(f"constraint {text!r}: leaves no value inside the bounds")
            elif rel.op == "==":
                column = self._solve_column(rel, frozen | derived)
                if column is not None:
                    rel = replace(rel, solve_for=column)
                    derived.add(column)
            relations.append(rel)
        return tuple(relations), frozenset(derived)

    def _solve_column(self, rel: LinearRelation, taken: frozenset[int]) -> int | None:
        """Column an equality recomputes: the lone feature on one side if free, else the
        last-named free one; None when every column is immutable or already derived."""
        lone = lone_feature(rel.text, self.feature_names)
        if lone is not None and self.index(lone) in rel.coeffs and self.index(lone) not in taken:
            return self.index(lone)
        free = [i for i in rel.columns if i not in taken]
        return free[-1] if free else None

    def _costs(
        self, cost: Mapping[str, float] | None, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        """Per-feature cost array; undeclared features cost 1/range per unit."""
        if not cost:
            return self.cost
        out = self.cost.copy() if self.cost is not None else 1.0 / np.maximum(upper - lower, 1e-12)
        for name, value in cost.items():
            if not np.isfinite(value) or value <= 0:
                raise UsageError(f"cost of {name!r} must be a positive number, got {value}")
            out[self.index(name)] = float(value)
        return out

    def index(self, name: str) -> int:
        """Column index of a feature name; UsageError naming the feature if unknown."""
        try:
            return self.feature_names.index(name)
        except ValueError:
            raise UsageError(f"unknown feature {name!r}") from None

    def project(self, x_adv: np.ndarray, x_orig: np.ndarray) -> np.ndarray:
        """Make candidate inputs feasible: clip to bounds, snap one-hot groups to their
        largest entry, restore immutable features, round integer features, snap categorical
        ones, recompute derived columns; rows still infeasible are pulled back towards
        x_orig (largest feasible fraction of the change; x_orig itself if even that fails)."""
        x_adv = np.atleast_2d(np.asarray(x_adv, dtype=np.float64))
        x_orig = np.broadcast_to(np.asarray(x_orig, dtype=np.float64), x_adv.shape)
        out = self._snap(x_adv, x_orig)
        bad = ~self.feasible(out)
        if bad.any():
            out[bad] = self._repair(x_adv[bad], x_orig[bad])
        return out

    def _snap(self, x: np.ndarray, x_orig: np.ndarray) -> np.ndarray:
        """The per-feature part of `project` (no line search)."""
        out = np.clip(x, self.lower, self.upper)
        for group in self.onehot:
            cols = list(group)
            if self.immutable & set(group):
                out[:, cols] = x_orig[:, cols]
                continue
            top = out[:, cols].argmax(axis=1)
            out[:, cols] = 0.0
            out[np.arange(len(out)), np.asarray(cols)[top]] = 1.0
        if self.immutable:
            idx = sorted(self.immutable)
            out[:, idx] = x_orig[:, idx]
        if self.integer:
            idx = sorted(self.integer - self.derived)
            out[:, idx] = np.clip(np.round(out[:, idx]), self.lower[idx], self.upper[idx])
        for i, values in self.categorical.items():
            allowed = np.asarray(values)
            nearest = np.abs(out[:, i, None] - allowed[None, :]).argmin(axis=1)
            out[:, i] = allowed[nearest]
        solved = [r for r in self.relations if r.solve_for is not None]
        for _ in range(len(solved)):  # repeated so that chains of derived columns settle
            for rel in solved:
                assert rel.solve_for is not None
                out[:, rel.solve_for] = rel.solve(out)
        return out

    def _repair(self, x_adv: np.ndarray, x_orig: np.ndarray) -> np.ndarray:
        """Bisection on t in [0, 1] for the largest fraction of the change x_adv - x_orig
        whose projection is feasible; rows whose x_orig is infeasible come back unchanged."""
        result = x_orig.copy()
        start_ok = self.feasible(x_orig)
        lo, hi = np.zeros(len(x_adv)), np.ones(len(x_adv))
        for _ in range(_REPAIR_STEPS):
            mid = (lo + hi) / 2
            candidate = self._snap(x_orig + mid[:, None] * (x_adv - x_orig), x_orig)
            ok = self.feasible(candidate) & start_ok
            result[ok] = candidate[ok]
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        return result

    def feasible(self, x: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        """(n,) bool: the row satisfies bounds, integer, categorical, one-hot and every
        relation (immutability needs the original row and is enforced by `project`)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        ok = np.isfinite(x).all(axis=1)
        for _, bad in self._failures(x, tol):
            ok &= ~bad
        return ok

    def _failures(self, x: np.ndarray, tol: float) -> list[tuple[str, np.ndarray]]:
        """(what is required, (n,) rows breaking it) for every kind of check."""
        out: list[tuple[str, np.ndarray]] = []
        slack = tol * np.maximum(np.maximum(np.abs(self.lower), np.abs(self.upper)), 1.0)
        outside = (x < self.lower - slack) | (x > self.upper + slack)
        for col in np.flatnonzero(outside.any(axis=0)):
            name, lo, hi = self.feature_names[col], self.lower[col], self.upper[col]
            out.append((f"{name} within [{lo:g}, {hi:g}]", outside[:, col]))
        if self.integer:
            idx = sorted(self.integer)
            frac = np.abs(x[:, idx] - np.round(x[:, idx])) > tol * np.maximum(np.abs(x[:, idx]), 1)
            for k in np.flatnonzero(frac.any(axis=0)):
                out.append((f"{self.feature_names[idx[k]]} is a whole number", frac[:, k]))
        for i, values in self.categorical.items():
            gap = np.abs(x[:, i, None] - np.asarray(values)[None, :]).min(axis=1)
            off = gap > tol * np.maximum(np.abs(x[:, i]), 1.0)
            out.append((f"{self.feature_names[i]} in {list(values)}", off))
        for group in self.onehot:
            block = x[:, list(group)]
            binary = (np.abs(block) <= tol) | (np.abs(block - 1) <= tol)
            single = np.abs(block.sum(axis=1) - 1) <= tol * len(group)
            names = ", ".join(self.feature_names[i] for i in group)
            out.append((f"one-hot ({names})", ~(binary.all(axis=1) & single)))
        for rel in self.relations:
            out.append((repr(rel.text), ~rel.holds(x, tol)))
        return out

    def violation_counts(self, x: np.ndarray, tol: float = 1e-6) -> dict[str, int]:
        """Number of rows breaking each requirement (only those broken at least once)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        counts = {what: int(bad.sum()) for what, bad in self._failures(x, tol)}
        return {what: n for what, n in counts.items() if n}

    def violations(self, x: np.ndarray, tol: float = 1e-6, limit: int = 5) -> list[str]:
        """Human-readable problems of the first `limit` infeasible rows."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        failures = self._failures(x, tol)
        rows = np.flatnonzero(~self.feasible(x, tol))[:limit]
        lines = []
        for r in rows:
            broken = [what for what, bad in failures if bad[r]] or ["finite values"]
            lines.append(f"row {int(r)}: violates " + "; ".join(broken))
        return lines

    @property
    def cost_units(self) -> str:
        """What `change_cost` is measured in."""
        return "user cost" if self.cost is not None else "fraction of range (L1)"

    def change_cost(self, x_adv: np.ndarray, x_orig: np.ndarray) -> np.ndarray:
        """(n,) cost of each change: sum of cost_i * |delta_i| over attacker-set features
        (derived columns follow from the others and are not charged); without declared
        costs, the L1 change as a fraction of each feature's range."""
        delta = np.abs(np.atleast_2d(x_adv) - np.atleast_2d(x_orig))
        weights = (self.cost if self.cost is not None else 1.0 / self.scale).astype(np.float64)
        weights = weights.copy()
        weights[list(self.derived)] = 0.0
        return np.asarray(delta @ weights, dtype=np.float64)

    def check(self, x: np.ndarray) -> None:
        """Raise DataError naming the problem if x does not fit this spec."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(
                f"input has {x.shape[-1] if x.ndim else 0} columns, model expects {self.n_features}"
            )
        if not np.all(np.isfinite(x)):
            raise DataError("input contains NaN or infinite values")

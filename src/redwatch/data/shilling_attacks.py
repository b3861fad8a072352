"""Seeded shilling-profile injection into interaction data: random, average and bandwagon
attacks (Lam & Riedl 2004; Mobasher et al. 2007) pushing or nuking one target item.

A fake profile rates the target item with the scale's maximum (push) or minimum (nuke),
`filler_size` x items filler items chosen uniformly, and for bandwagon the most popular
items with the maximum (push or nuke). Filler ratings are drawn around the global mean and standard
deviation (random), each item's own mean and deviation (average), or the global ones
(bandwagon), rounded into the rating scale. Each fake account rates in one short session,
and the sessions fall into one burst window. Used by the benchmark, the tests and the docs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from redwatch.exceptions import UsageError

ATTACKS = ("random", "average", "bandwagon")
COLUMNS = ("user", "item", "rating", "timestamp")
MIN_TARGET_RATINGS = 5


@dataclass(frozen=True)
class AttackSpec:
    """One attack: its model, sizes (fractions of genuine users / of items), target, burst."""

    kind: str
    attack_size: float = 0.03
    filler_size: float = 0.03
    target: int | None = None
    push: bool = True
    popular_items: int = 3
    burst_seconds: int = 2 * 86_400
    session_seconds: int = 1_800
    seed: int = 0


@dataclass(frozen=True)
class Injection:
    """The poisoned ratings (genuine rows first, then the fake ones), the fake user ids and
    the target item."""

    frame: pd.DataFrame
    fake_users: np.ndarray
    target: int


def inject_attack(frame: pd.DataFrame, spec: AttackSpec) -> Injection:
    """Append the fake profiles `spec` describes to `frame` (columns user, item, rating,
    timestamp with integer ids) and return them with the ground truth."""
    _check(spec)
    rng = np.random.default_rng(spec.seed)
    stats = _Stats.of(frame)
    target = spec.target if spec.target is not None else _pick_target(stats, spec.push, rng)
    if target not in stats.item_mean.index:
        raise UsageError(f"target item {target} has no ratings in the data")
    n_fake = max(1, round(spec.attack_size * frame["user"].nunique()))
    n_filler = max(1, round(spec.filler_size * len(stats.item_mean)))
    first_id = int(frame["user"].max()) + 1
    fake_ids = np.arange(first_id, first_id + n_fake, dtype=np.int64)
    start = int(rng.integers(int(frame["timestamp"].min()), int(frame["timestamp"].max())))
    rows = [_profile(u, target, n_filler, start, stats, spec, rng) for u in fake_ids]
    fakes = pd.DataFrame(np.vstack(rows), columns=list(COLUMNS)).astype("int64")
    poisoned = pd.concat([frame[list(COLUMNS)], fakes], ignore_index=True)
    return Injection(poisoned, fake_ids, int(target))


@dataclass(frozen=True)
class _Stats:
    """What the attacker knows: the rating scale, global and per-item mean / deviation,
    per-item rating counts, items by popularity (most rated first)."""

    low: int
    high: int
    mean: float
    std: float
    item_mean: pd.Series
    item_std: pd.Series
    item_count: pd.Series
    popular: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Stats:
        """Statistics of the genuine ratings."""
        by_item = frame.groupby("item")["rating"]
        counts = by_item.size().sort_values(ascending=False, kind="stable")
        return cls(
            int(frame["rating"].min()),
            int(frame["rating"].max()),
            float(frame["rating"].mean()),
            float(frame["rating"].std()),
            by_item.mean(),
            by_item.std().fillna(float(frame["rating"].std())),
            counts,
            counts.index.to_numpy(),
        )


def _check(spec: AttackSpec) -> None:
    """UsageError on an unknown attack or sizes outside (0, 1]."""
    if spec.kind not in ATTACKS:
        raise UsageError(f"unknown attack {spec.kind!r}; choose one of {', '.join(ATTACKS)}")
    for name in ("attack_size", "filler_size"):
        value = getattr(spec, name)
        if not 0 < value <= 1:
            raise UsageError(f"{name} must be in (0, 1], got {value}")


def _pick_target(stats: _Stats, push: bool, rng: np.random.Generator) -> int:
    """A seeded target with at least 5 ratings, rated below the global mean for a push (an
    item worth pushing) or above it for a nuke."""
    rated = stats.item_mean[stats.item_count >= MIN_TARGET_RATINGS]
    pool = rated.index[rated < stats.mean] if push else rated.index[rated > stats.mean]
    return int(rng.choice(np.sort(pool.to_numpy())))


def _profile(
    user: int,
    target: int,
    n_filler: int,
    start: int,
    stats: _Stats,
    spec: AttackSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """One fake account's rows: target, (bandwagon) popular items, filler items."""
    extreme = stats.high if spec.push else stats.low
    fixed = [target]
    if spec.kind == "bandwagon":
        fixed += [int(i) for i in stats.popular[: spec.popular_items] if i != target]
    pool = np.setdiff1d(stats.item_mean.index.to_numpy(), fixed)
    filler = rng.choice(pool, size=min(n_filler, len(pool)), replace=False)
    if spec.kind == "average":
        centre = stats.item_mean.loc[filler].to_numpy()
        spread = stats.item_std.loc[filler].to_numpy()
    else:
        centre = np.full(len(filler), stats.mean)
        spread = np.full(len(filler), stats.std)
    drawn = np.clip(np.rint(rng.normal(centre, spread)), stats.low, stats.high)
    items = np.concatenate([fixed, filler]).astype(np.int64)
    top = np.full(len(fixed) - 1, stats.high)
    ratings = np.concatenate([[extreme], top, drawn]).astype(np.int64)
    session = start + int(rng.integers(0, spec.burst_seconds))
    times = session + rng.integers(0, spec.session_seconds, size=len(items))
    return np.column_stack([np.full(len(items), user), items, ratings, np.sort(times)])

"""Square Attack (Andriushchenko et al., 2020), score-based, batched; L∞ here, the L2
proposal step in square_l2.py.

Random search on the log-probability margin: start from vertical stripes of ±eps, then
propose changing one random square window to a fresh ±eps pattern; keep it when the margin
drops. The window area follows the paper's schedule (p_init halved at fixed fractions of the
query budget). Every still-running sample is evaluated in one `proba_fn` call per iteration;
a sample stops at its first adversarial point or when it has spent `max_queries`.
`p_init` defaults to 0.8, the paper's setting for small images (ART's default too): on the
demo MNIST CNN at L∞ 0.2 and 300 queries it lifts success from 24 % (p_init 0.05) to 75 %,
against ART's 65 %; tabular targets are indifferent to it.

Images: rows are flattened channel-first (c, h, w) and `image_shape` gives the layout.
Without it the input is tabular and uses the 1-D analogue: a "stripe" is one feature
(independent ±eps) and a "square" is a window of consecutive mutable features.
"""

from __future__ import annotations

import math

import numpy as np

from redwatch.attacks import square_l2
from redwatch.attacks.base import (
    AttackResult,
    ProbaFn,
    check_inputs,
    check_norm,
    finish,
    is_adversarial,
    make_rng,
    margin_loss,
)
from redwatch.attacks.square_layout import Layout, make_layout
from redwatch.exceptions import ProbeError, QueryBudgetExceeded

_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # iterations, per 10,000 queries


def square(
    proba_fn: ProbaFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    norm: str = "inf",
    max_queries: int = 1000,
    p_init: float = 0.8,
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    rng: np.random.Generator | None = None,
    targeted: bool = False,
    image_shape: tuple[int, ...] | None = None,
) -> AttackResult:
    """Run the Square Attack (L∞ or L2) with at most `max_queries` rows per sample, the
    initial query included."""
    norm = check_norm(norm)
    x, y, m = check_inputs(x, y, mask, clip)
    if eps <= 0 or max_queries < 1 or not 0 < p_init <= 1:
        raise ProbeError("Square needs eps > 0, max_queries >= 1 and 0 < p_init <= 1")
    layout = make_layout(x.shape[1], m, image_shape)
    gen = make_rng(rng)
    n = len(x)
    x_best = x.copy()
    margin = np.full(n, np.inf)
    success = np.zeros(n, dtype=bool)
    queries = np.zeros(n, dtype=np.int64)
    stopped = None
    try:
        start = (
            square_l2.initial(layout, n, eps, gen)
            if norm == "2"
            else eps * _stripes(layout, n, gen)
        )
        cand = _clip(x + start, clip)
        proba = np.asarray(proba_fn(cand), dtype=np.float64)
        queries += 1
        x_best[:] = cand
        margin[:] = margin_loss(proba, y, targeted)
        success[:] = is_adversarial(proba.argmax(axis=1), y, targeted)
        for it in range(1, max_queries):
            rows = np.flatnonzero(~success & (queries < max_queries))
            if len(rows) == 0:
                break
            p = p_init / 2 ** sum(int(it / max_queries * 10000) > t for t in _SCHEDULE)
            propose = square_l2.propose if norm == "2" else _propose
            cand = propose(layout, x[rows], x_best[rows], eps, p, clip, gen)
            proba = np.asarray(proba_fn(cand), dtype=np.float64)
            queries[rows] += 1
            new_margin = margin_loss(proba, y[rows], targeted)
            hit = is_adversarial(proba.argmax(axis=1), y[rows], targeted)
            keep = hit | (new_margin < margin[rows])
            x_best[rows[keep]] = cand[keep]
            margin[rows[keep]] = new_margin[keep]
            success[rows[hit]] = True
    except QueryBudgetExceeded:
        stopped = "budget"
    return finish(x, x_best, success, queries, norm, stopped)


def _clip(x: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    return np.asarray(np.clip(x, clip[0], clip[1]))


def _stripes(layout: Layout, n: int, gen: np.random.Generator) -> np.ndarray:
    """Initial ±1 pattern: one sign per (channel, column) for images, per feature otherwise."""
    d = len(layout.mask)
    if layout.image is None:
        out = np.zeros((n, d))
        out[:, layout.mutable] = gen.choice([-1.0, 1.0], size=(n, len(layout.mutable)))
        return out
    c, h, w = layout.image
    signs = gen.choice([-1.0, 1.0], size=(n, c, 1, w))
    return np.asarray(np.broadcast_to(signs, (n, c, h, w)).reshape(n, d) * layout.mask)


def _propose(
    layout: Layout,
    x: np.ndarray,
    x_best: np.ndarray,
    eps: float,
    p: float,
    clip: tuple[float, float],
    gen: np.random.Generator,
) -> np.ndarray:
    """One candidate per row: x_best with one window reset to a fresh ±eps pattern.

    A window whose new pattern equals the current one is flipped, so no query is wasted.
    """
    window, signs = _window(layout, len(x), p, gen)
    delta = x_best - x
    cand = _clip(x + np.where(window, eps * signs, delta), clip)
    same = ~np.any(window & (np.abs(cand - x_best) > 1e-9), axis=1)
    if np.any(same):
        cand[same] = _clip(x[same] + np.where(window[same], -eps * signs[same], delta[same]), clip)
    return cand


def _window(
    layout: Layout, n: int, p: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random window per row (bool (n, d)) and the ±1 value each feature gets in it."""
    d = len(layout.mask)
    if layout.image is None:
        k = len(layout.mutable)
        s = min(max(round(p * k), 1), max(k - 1, 1))
        start = gen.integers(0, k - s + 1, size=(n, 1))
        pos = np.arange(k)[None, :]
        window = np.zeros((n, d), dtype=bool)
        window[:, layout.mutable] = (pos >= start) & (pos < start + s)
        signs = np.broadcast_to(gen.choice([-1.0, 1.0], size=(n, 1)), (n, d))
        return window, np.asarray(signs)
    c, h, w = layout.image
    s = min(max(round(math.sqrt(p * h * w)), 1), max(min(h, w) - 1, 1))
    r0 = gen.integers(0, h - s + 1, size=(n, 1))
    c0 = gen.integers(0, w - s + 1, size=(n, 1))
    rows = (np.arange(h)[None, :] >= r0) & (np.arange(h)[None, :] < r0 + s)
    cols = (np.arange(w)[None, :] >= c0) & (np.arange(w)[None, :] < c0 + s)
    square2d = rows[:, :, None] & cols[:, None, :]
    window = np.broadcast_to(square2d[:, None], (n, c, h, w)).reshape(n, d) & layout.mask
    signs = np.broadcast_to(gen.choice([-1.0, 1.0], size=(n, c, 1, 1)), (n, c, h, w))
    return window, np.asarray(signs).reshape(n, d)

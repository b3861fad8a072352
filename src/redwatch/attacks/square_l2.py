"""L2 variant of the Square Attack (Andriushchenko et al., 2020): the proposal step.

The perturbation always has L2 norm eps. A proposal picks two windows W1 and W2, empties
W2, and puts into W1 the old W1 direction plus a fresh signed "bump" (two halves of opposite
sign, each peaked at its centre, as in the paper), scaled so that the mass of W1 ∪ W2 plus any
unused budget is kept; the whole perturbation is then rescaled to eps. Images use square
windows; tabular data uses windows of consecutive mutable features (see square.py).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from redwatch.attacks.square_layout import Layout


@cache
def _profile(length: int) -> np.ndarray:
    """1-D bump of a given length, peaked in the middle: value at distance r from the
    centre is sum_{k>=r} 1/(k+1)^2, which equals stacking nested windows of weight 1/(k+1)^2."""
    centre = (length - 1) / 2.0
    dist = np.abs(np.arange(length) - centre).round().astype(int)
    top = int(dist.max()) + 1
    tail = np.cumsum((1.0 / (np.arange(top) + 1.0) ** 2)[::-1])[::-1]
    return np.asarray(tail[dist])


@cache
def _bump_1d(s: int) -> np.ndarray:
    """Unit-norm 1-D bump: first half positive, second half negative."""
    half = s // 2
    out = np.concatenate([_profile(half), -_profile(s - half)]) if half else np.ones(1)
    return np.asarray(out / np.linalg.norm(out))


@cache
def _bump_2d(s: int) -> np.ndarray:
    """Unit-norm s x s bump: top half a positive peak, bottom half a negative one."""
    half = s // 2
    top = np.minimum.outer(_profile(half), _profile(s)) if half else np.zeros((0, s))
    bottom = -np.minimum.outer(_profile(s - half), _profile(s))
    out = np.vstack([top, bottom])
    return np.asarray(out / np.linalg.norm(out))


def side(layout: Layout, p: float) -> int:
    """Window side for the area fraction p (at least 3 on images, 2 on tabular data)."""
    if layout.image is None:
        k = len(layout.mutable)
        return min(max(round(p * k), 2), k)
    _, h, w = layout.image
    s = max(round(math.sqrt(p * h * w)), 3)
    s += 1 - s % 2  # odd, so the peaks have a centre
    return min(s, h, w)


def bumps(layout: Layout, n: int, s: int, gen: np.random.Generator) -> np.ndarray:
    """One randomly placed, randomly signed unit bump of side s per row, as (n, d)."""
    d = len(layout.mask)
    out = np.zeros((n, d))
    if layout.image is None:
        k = len(layout.mutable)
        start = gen.integers(0, k - s + 1, size=n)
        cols = layout.mutable[start[:, None] + np.arange(s)[None, :]]
        sign = gen.choice([-1.0, 1.0], size=(n, 1))
        out[np.arange(n)[:, None], cols] = sign * _bump_1d(s)[None, :]
        return out
    c, h, w = layout.image
    pattern = np.broadcast_to(_bump_2d(s), (n, s, s)).copy()
    flip = gen.random(n) < 0.5
    pattern[flip] = pattern[flip].transpose(0, 2, 1)
    r0 = gen.integers(0, h - s + 1, size=n)[:, None, None] + np.arange(s)[None, :, None]
    c0 = gen.integers(0, w - s + 1, size=n)[:, None, None] + np.arange(s)[None, None, :]
    img = out.reshape(n, c, h, w)
    signs = gen.choice([-1.0, 1.0], size=(n, c))
    rows = np.arange(n)[:, None, None]
    for ch in range(c):
        img[rows, ch, r0, c0] = signs[:, ch, None, None] * pattern
    return out * layout.mask / math.sqrt(c)


def initial(layout: Layout, n: int, eps: float, gen: np.random.Generator) -> np.ndarray:
    """Starting perturbation: signed bumps tiling the input (a 5 x 5 grid on images,
    windows of about a fifth of the mutable features otherwise), scaled to norm eps."""
    if layout.image is None:
        k = len(layout.mutable)
        total = np.zeros((n, len(layout.mask)))
        s = max(k // 5, 1)
        for start in range(0, k - s + 1, s):
            sign = gen.choice([-1.0, 1.0], size=(n, 1))
            total[:, layout.mutable[start : start + s]] += sign * _bump_1d(s)[None, :]
    else:
        c, h, w = layout.image
        s = max(min(h, w) // 5, 1)
        grid = np.zeros((n, c, h, w))
        for r in range(0, h - s + 1, s):
            for q in range(0, w - s + 1, s):
                sign = gen.choice([-1.0, 1.0], size=(n, c, 1, 1))
                grid[:, :, r : r + s, q : q + s] += sign * _bump_2d(s)
        total = grid.reshape(n, -1) * layout.mask
    return _to_norm(total, eps)


def propose(
    layout: Layout,
    x: np.ndarray,
    x_best: np.ndarray,
    eps: float,
    p: float,
    clip: tuple[float, float],
    gen: np.random.Generator,
) -> np.ndarray:
    """One candidate per row (see module docstring)."""
    n = len(x)
    s = side(layout, p)
    delta = x_best - x
    fresh = bumps(layout, n, s, gen)
    w1 = fresh != 0
    w2 = bumps(layout, n, s, gen) != 0
    union = w1 | w2
    mass = np.sum((delta * union) ** 2, axis=1)
    slack = np.maximum(eps**2 - np.sum(delta**2, axis=1), 0.0)
    old = delta * w1
    old /= np.linalg.norm(old, axis=1, keepdims=True) + 1e-10
    inside = fresh + old
    inside /= np.maximum(np.linalg.norm(inside, axis=1, keepdims=True), 1e-12)
    inside *= np.sqrt(mass + slack)[:, None]
    new = np.where(union, 0.0, delta) + inside
    return np.asarray(np.clip(x + _to_norm(new, eps), clip[0], clip[1]))


def _to_norm(delta: np.ndarray, eps: float) -> np.ndarray:
    """Rescale each row to L2 norm eps (rows of zeros stay zero)."""
    norm = np.linalg.norm(delta, axis=1, keepdims=True)
    return np.asarray(delta * (eps / np.maximum(norm, 1e-12)))

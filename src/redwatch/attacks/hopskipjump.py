"""HopSkipJump (Chen, Jordan and Wainwright, 2020), decision-based, batched across samples.

Labels only. Each sample walks along the decision boundary: binary search between the
original point and an adversarial one, Monte-Carlo estimate of the boundary's normal from
the labels of random probes around the boundary point, a geometric step along it, and back
to the boundary. Every stage puts the candidate points of all active samples into one
`predict_fn` call (split only when it would exceed ~16M numbers), so the model sees a few
large batches instead of thousands of single rows.

Query accounting is exact: every row handed to `predict_fn` is charged to its sample, and a
stage is trimmed so that no sample ever exceeds `max_queries`. Every point kept as a result
was confirmed adversarial by a query.

Two modes. With `eps=None` each sample walks until its budget or `max_iter` is spent and the
result is its minimal-norm adversarial (the robustness-curve mode). With `eps` a sample
leaves the batch as soon as a confirmed adversarial lies within eps: the binary searches stop
at that point, and an adversarial gradient probe that happens to fall inside eps ends it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from redwatch.attacks.base import (
    AttackResult,
    PredictFn,
    check_inputs,
    check_norm,
    finish,
    is_adversarial,
    lp_norm,
    make_rng,
    random_start,
)
from redwatch.exceptions import ProbeError, QueryBudgetExceeded

_MAX_ELEMENTS = 1 << 24  # largest candidate batch (rows x features) sent in one call
_INIT_TOL = 1e-3  # precision of the blending search after random initialization
_MAX_HALVINGS = 12  # geometric step-size search gives up after this many halvings (ξ/4096)


@dataclass
class _Config:
    """Fixed parameters of one run."""

    norm: str
    max_queries: int
    init_evals: int
    max_evals: int
    eps: float | None
    targeted: bool
    mask: np.ndarray
    clip: tuple[float, float]
    theta: float
    init_trials: int


class LabelOracle:
    """Labels for batches of candidate points, charged exactly to the sample they serve.

    Shared by the decision-based attacks (HopSkipJump, Sign-OPT): `y` holds the true labels
    (untargeted) or the target classes (targeted)."""

    def __init__(
        self, predict_fn: PredictFn, y: np.ndarray, max_queries: int, targeted: bool
    ) -> None:
        self.predict_fn = predict_fn
        self.y = y
        self.max_queries = max_queries
        self.targeted = targeted
        self.queries = np.zeros(len(y), dtype=np.int64)

    def left(self, rows: np.ndarray) -> np.ndarray:
        """Queries each given sample may still spend."""
        return np.asarray(self.max_queries - self.queries[rows])

    def ask(self, points: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """True where the point is adversarial for its owner sample."""
        out = np.zeros(len(points), dtype=bool)
        step = max(1, _MAX_ELEMENTS // max(1, points.shape[1]))
        for s in range(0, len(points), step):
            chunk = slice(s, s + step)
            pred = np.asarray(self.predict_fn(points[chunk])).reshape(-1)
            np.add.at(self.queries, owners[chunk], 1)
            out[chunk] = is_adversarial(pred, self.y[owners[chunk]], self.targeted)
        return out


@dataclass
class _State:
    """Per-sample progress, kept outside the loop so a budget stop loses nothing."""

    x: np.ndarray
    found: np.ndarray  # an adversarial point is known
    boundary: np.ndarray  # current adversarial point near the boundary
    dist: np.ndarray  # its distance to x
    best: np.ndarray  # smallest-norm adversarial point so far
    best_dist: np.ndarray
    norm: str


def hopskipjump(
    predict_fn: PredictFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    norm: str = "2",
    max_queries: int = 1000,
    max_iter: int = 50,
    init_evals: int = 100,
    max_evals: int = 1000,
    eps: float | None = None,
    targeted: bool = False,
    x_init: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    rng: np.random.Generator | None = None,
    init_trials: int = 100,
) -> AttackResult:
    """Run HopSkipJump with at most `max_queries` model rows per sample.

    y are true labels (untargeted) or target classes (targeted). `x_init` optionally gives a
    starting adversarial point per row (checked with one query); otherwise up to
    `init_trials` random points (uniform noise alternating with box corners) are tried.
    With `eps`, a sample stops as soon as a confirmed adversarial lies within eps; without
    it, the attack minimizes the norm until `max_queries` or `max_iter` is spent.
    """
    norm = check_norm(norm)
    x, y, m = check_inputs(x, y, mask, clip)
    if max_queries < 1 or max_iter < 0 or init_evals < 1 or max_evals < init_evals:
        raise ProbeError("HopSkipJump needs max_queries >= 1 and 1 <= init_evals <= max_evals")
    k = max(int(m.sum()), 1)
    theta = 1.0 / (k * math.sqrt(k)) if norm == "2" else 1.0 / (k * k)
    cfg = _Config(
        norm, max_queries, init_evals, max_evals, eps, targeted, m, clip, theta, init_trials
    )
    oracle = LabelOracle(predict_fn, y, max_queries, targeted)
    n = len(x)
    inf = np.full(n, np.inf)
    state = _State(x, np.zeros(n, bool), x.copy(), inf.copy(), x.copy(), inf.copy(), norm)
    gen = make_rng(rng)
    stopped = None
    try:
        _initialize(state, oracle, cfg, gen, x_init)
        _run(state, oracle, cfg, gen, max_iter)
    except QueryBudgetExceeded:
        stopped = "budget"
    return finish(x, state.best, state.found, oracle.queries, norm, stopped)


# -- stages ------------------------------------------------------------------------------
def _initialize(
    state: _State,
    oracle: LabelOracle,
    cfg: _Config,
    gen: np.random.Generator,
    x_init: np.ndarray | None,
) -> None:
    """Find a first adversarial point per sample, then pull it toward x by blending."""
    n = len(state.x)
    start = state.x.copy()
    if x_init is not None:
        cand = np.asarray(x_init, dtype=np.float64)
        if cand.shape != state.x.shape:
            raise ProbeError(f"x_init has shape {cand.shape}, expected {state.x.shape}")
        cand = np.where(cfg.mask, np.clip(cand, *cfg.clip), state.x)
        _try_start(state, oracle, start, cand, np.arange(n))
    for trial in range(cfg.init_trials):
        rows = np.flatnonzero(~state.found & (oracle.left(np.arange(n)) > 0))
        if len(rows) == 0:
            break
        cand = random_start(state.x[rows], trial, cfg.mask, cfg.clip, gen)
        _try_start(state, oracle, start, cand, rows)
    rows = np.flatnonzero(state.found)
    hi = _bisect(oracle, state.x[rows], start[rows], rows, cfg, _INIT_TOL)
    _accept(state, rows, _between(state.x[rows], start[rows], hi, cfg.norm))


def _try_start(
    state: _State, oracle: LabelOracle, start: np.ndarray, cand: np.ndarray, rows: np.ndarray
) -> None:
    """Query candidate starting points and remember those that are adversarial."""
    hit = oracle.ask(cand, rows)
    start[rows[hit]] = cand[hit]
    state.found[rows[hit]] = True
    _accept(state, rows[hit], cand[hit])  # kept even if the budget ends now


def _run(
    state: _State, oracle: LabelOracle, cfg: _Config, gen: np.random.Generator, max_iter: int
) -> None:
    """Main loop: gradient estimate, geometric step, binary search back to the boundary."""
    n = len(state.x)
    for t in range(1, max_iter + 1):
        active = state.found & (oracle.left(np.arange(n)) > 0)
        if cfg.eps is not None:
            active &= state.best_dist > cfg.eps
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            return
        num_evals = min(int(cfg.init_evals * math.sqrt(t)), cfg.max_evals)
        delta = _probe_radius(state.dist[rows], t, cfg)
        rows, grad = _estimate_gradient(state, oracle, cfg, gen, rows, num_evals, delta)
        if len(rows) == 0:
            return
        update = grad if cfg.norm == "2" else np.sign(grad)
        moved = _geometric_step(state, oracle, cfg, rows, update, state.dist[rows] / math.sqrt(t))
        hi = _bisect(oracle, state.x[rows], moved, rows, cfg, cfg.theta)
        _accept(state, rows, _between(state.x[rows], moved, hi, cfg.norm))


def _probe_radius(dist: np.ndarray, t: int, cfg: _Config) -> np.ndarray:
    """Radius of the random probes: 0.1 of the box at first, then shrinking with dist."""
    if t == 1:
        return np.full(len(dist), 0.1 * (cfg.clip[1] - cfg.clip[0]))
    k = int(cfg.mask.sum())
    scale = math.sqrt(k) if cfg.norm == "2" else float(k)
    return np.maximum(scale * cfg.theta * dist, 1e-12)


def _estimate_gradient(
    state: _State,
    oracle: LabelOracle,
    cfg: _Config,
    gen: np.random.Generator,
    rows: np.ndarray,
    num_evals: int,
    delta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo estimate of the boundary normal at each sample's boundary point.

    Returns the rows that could afford at least one probe and their unit-L2 estimates.
    Samples are grouped so that one group's probes fit in ~16M numbers (one call each).
    """
    counts = np.minimum(num_evals, oracle.left(rows))
    keep = counts > 0
    rows, counts, delta = rows[keep], counts[keep], delta[keep]
    grads = np.zeros((len(rows), state.x.shape[1]))
    per_group = max(1, _MAX_ELEMENTS // max(1, state.x.shape[1]))
    group = np.cumsum(counts) // per_group
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        grads[sel] = _gradient_group(state, oracle, cfg, gen, rows[sel], counts[sel], delta[sel])
    return rows, grads


def _gradient_group(
    state: _State,
    oracle: LabelOracle,
    cfg: _Config,
    gen: np.random.Generator,
    rows: np.ndarray,
    counts: np.ndarray,
    delta: np.ndarray,
) -> np.ndarray:
    """Gradient estimates for one group of samples from one batch of random probes."""
    owners = np.repeat(rows, counts)
    centre = state.boundary[owners]
    radius = np.repeat(delta, counts)[:, None]
    shape = (len(owners), state.x.shape[1])
    u = gen.standard_normal(shape) if cfg.norm == "2" else gen.uniform(-1.0, 1.0, shape)
    u *= cfg.mask
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    probes = np.clip(centre + radius * u, *cfg.clip)
    u = (probes - centre) / radius
    adversarial = oracle.ask(probes, owners)
    phi = np.where(adversarial, 1.0, -1.0)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    _keep_best_probe(state, rows, counts, starts, probes, adversarial)
    mean_phi = np.add.reduceat(phi, starts) / counts
    centred = phi - np.repeat(np.where(np.abs(mean_phi) == 1.0, 0.0, mean_phi), counts)
    grad = np.add.reduceat(centred[:, None] * u, starts, axis=0) / counts[:, None]
    return np.asarray(grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12))


def _keep_best_probe(
    state: _State,
    rows: np.ndarray,
    counts: np.ndarray,
    starts: np.ndarray,
    probes: np.ndarray,
    adversarial: np.ndarray,
) -> None:
    """A random probe that came back adversarial is a confirmed adversarial point too: keep
    the smallest one per sample when it beats the best (free; it can end a sample in eps
    mode without another query)."""
    segment = np.repeat(np.arange(len(rows)), counts)
    dist = lp_norm(probes - state.x[rows][segment], state.norm)
    dist = np.where(adversarial, dist, np.inf)
    first = np.lexsort((dist, segment))[starts]
    found = np.isfinite(dist[first])
    _keep_best(state, rows[found], probes[first[found]], dist[first[found]])


def _geometric_step(
    state: _State,
    oracle: LabelOracle,
    cfg: _Config,
    rows: np.ndarray,
    update: np.ndarray,
    size: np.ndarray,
) -> np.ndarray:
    """Step from the boundary along `update`, halving the size until the point stays
    adversarial; a sample that runs out of budget or halvings stays where it was."""
    clip = cfg.clip
    out: np.ndarray = state.boundary[rows].copy()
    pending = np.arange(len(rows))
    size = size.copy()
    for _ in range(_MAX_HALVINGS):
        pending = pending[oracle.left(rows[pending]) > 0]
        if len(pending) == 0:
            break
        cand = np.clip(out[pending] + size[pending, None] * update[pending], *clip)
        hit = oracle.ask(cand, rows[pending])
        out[pending[hit]] = cand[hit]
        pending = pending[~hit]
        size[pending] /= 2.0
    return out


def _bisect(
    oracle: LabelOracle,
    x: np.ndarray,
    adv: np.ndarray,
    rows: np.ndarray,
    cfg: _Config,
    tol: float,
) -> np.ndarray:
    """Batched binary search for the smallest adversarial position between x and adv.

    Returns hi in [0, 1] per row; `_between(x, adv, hi)` is adversarial (hi = 1 when the
    budget ran out before any step). With cfg.eps a row stops once that point is within eps.
    """
    lo, hi = np.zeros(len(rows)), np.ones(len(rows))
    full = lp_norm(adv - x, cfg.norm)  # the point at hi lies at distance hi * full
    limit = -np.inf if cfg.eps is None else cfg.eps
    while True:
        open_ = (hi - lo > tol) & (oracle.left(rows) > 0) & (hi * full > limit)
        active = np.flatnonzero(open_)
        if len(active) == 0:
            return hi
        mid = (lo[active] + hi[active]) / 2.0
        hit = oracle.ask(_between(x[active], adv[active], mid, cfg.norm), rows[active])
        hi[active[hit]] = mid[hit]
        lo[active[~hit]] = mid[~hit]


def _between(x: np.ndarray, adv: np.ndarray, alpha: np.ndarray, norm: str) -> np.ndarray:
    """Point at relative position alpha from x toward adv: a blend (L2) or an L∞ box clip."""
    a = np.asarray(alpha)[:, None]
    if norm == "2":
        return np.asarray(x + a * (adv - x))
    radius = a * np.abs(adv - x).max(axis=1, keepdims=True)
    return np.asarray(np.clip(adv, x - radius, x + radius))


def _accept(state: _State, rows: np.ndarray, points: np.ndarray) -> None:
    """Make points the samples' boundary points and keep the smallest-norm ones as best."""
    dist = lp_norm(points - state.x[rows], state.norm)
    state.boundary[rows] = points
    state.dist[rows] = dist
    _keep_best(state, rows, points, dist)


def _keep_best(state: _State, rows: np.ndarray, points: np.ndarray, dist: np.ndarray) -> None:
    """Remember confirmed adversarial points that are smaller than each sample's best."""
    better = dist < state.best_dist[rows]
    state.best[rows[better]] = points[better]
    state.best_dist[rows[better]] = dist[better]

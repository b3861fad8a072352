"""Adversarial patch (Brown et al., 2017) trained with expectation over transformation.

One square patch, a fraction of the image area, is optimised so that pasting it anywhere on an
image, rotated, rescaled, under changed brightness and sensor noise, makes the model err
(untargeted: raise the cross-entropy of the true class) or answer a chosen class (targeted:
lower the cross-entropy of that class). Any model with input gradients works: views are
composed in torch from the patch tensor, the model's gradient w.r.t. those views comes from
`grad_fn` (metered by the Target), and torch carries it back through the composition to the
patch. Success is measured over many fresh random views of held-out images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from redwatch.attacks.base import GradFn, PredictFn, check_inputs, make_rng
from redwatch.attacks.eot import EOTSampler, TransformRanges, load_torch, patch_side
from redwatch.exceptions import ProbeError, QueryBudgetExceeded

StopFn = Callable[[], bool]


@dataclass
class PatchResult:
    """A trained patch, in the attack's pixel box."""

    patch: np.ndarray  # (C, s, s)
    queries: int  # model rows spent on gradients
    steps: int  # optimisation steps completed
    stopped: str | None = None  # "budget" or "time" when cut short


@dataclass
class PatchEvaluation:
    """Success of a patch over transformed views of images."""

    success_rate: float  # share of evaluated views the patch fools
    views: int  # views evaluated
    successes: int
    images: int  # distinct images the views were made from
    stopped: str | None = None  # "budget" when the query budget ran out part way
    examples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # a few views (n, d)
    example_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    example_pred: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class PatchSetup:
    """Geometry shared by training and evaluation."""

    image_shape: tuple[int, int, int]
    size: float = 0.1  # patch area as a fraction of the image area
    ranges: TransformRanges = field(default_factory=TransformRanges)
    clip: tuple[float, float] = (0.0, 1.0)

    @property
    def side(self) -> int:
        """Patch side in pixels."""
        return patch_side(self.image_shape, self.size)

    def sampler(self) -> EOTSampler:
        """The transformation sampler for this geometry."""
        return EOTSampler(self.image_shape, self.side, self.ranges, self.clip)


def random_patch(setup: PatchSetup, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random patch: the baseline an optimised patch must beat."""
    c = setup.image_shape[0]
    return rng.uniform(setup.clip[0], setup.clip[1], size=(c, setup.side, setup.side))


def train_patch(
    grad_fn: GradFn,
    x_train: np.ndarray,
    y_train: np.ndarray,
    setup: PatchSetup,
    *,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 0.05,
    targeted: bool = False,
    rng: np.random.Generator | None = None,
    stop: StopFn | None = None,
) -> PatchResult:
    """Optimise a patch with Adam over random views of mini-batches of x_train (flattened
    rows in the clip box). y_train: true labels, or the target class when targeted. Each step
    costs one gradient row per image in the batch; a spent budget or `stop()` ends training
    with the patch reached so far."""
    torch = load_torch()
    x, y, _ = check_inputs(x_train, y_train, None, setup.clip)
    if min(steps, batch_size) < 1 or len(x) == 0 or lr <= 0:
        raise ProbeError("patch training needs steps, batch_size >= 1, lr > 0 and some rows")
    _check_shape(setup, x.shape[1])
    gen = make_rng(rng)
    sampler = setup.sampler()
    param = torch.tensor(random_patch(setup, gen), dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([param], lr=lr)
    done, queries, stopped = 0, 0, None
    try:
        for _ in range(steps):
            if stop is not None and stop():
                stopped = "time"
                break
            rows = gen.choice(len(x), size=min(batch_size, len(x)), replace=False)
            views = sampler.sample(len(rows), gen)
            images = torch.as_tensor(x[rows], dtype=torch.float32).reshape(-1, *setup.image_shape)
            composed = sampler.compose(images, param, views)
            flat = composed.detach().reshape(len(rows), -1).double().numpy()
            grad = np.asarray(grad_fn(flat, y[rows]), dtype=np.float64)
            queries += len(rows)
            sign = 1.0 if targeted else -1.0  # Adam descends: ascend the loss when untargeted
            opt.zero_grad()
            upstream = torch.as_tensor(sign * grad, dtype=torch.float32).reshape_as(composed)
            torch.autograd.backward(composed, upstream)
            opt.step()
            with torch.no_grad():
                param.clamp_(setup.clip[0], setup.clip[1])
            done += 1
    except QueryBudgetExceeded:
        stopped = "budget"
    patch = param.detach().double().numpy()
    return PatchResult(np.clip(patch, *setup.clip), queries, done, stopped)


def evaluate_patch(
    predict_fn: PredictFn,
    patch: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    setup: PatchSetup,
    *,
    views: int = 2000,
    targeted: bool = False,
    rng: np.random.Generator | None = None,
    batch_size: int = 256,
    examples: int = 8,
) -> PatchEvaluation:
    """Paste the patch on every image of x under fresh random transformations, at least
    `views` views in all (each image equally often), and count the views the model gets
    wrong (untargeted, y = true labels) or assigns to y (targeted, y = target class).
    Two calls with equally seeded generators see identical views, so patches compare fairly.
    """
    torch = load_torch()
    xs, ys, _ = check_inputs(x, y, None, setup.clip)
    if views < 1 or batch_size < 1 or len(xs) == 0:
        raise ProbeError("patch evaluation needs views, batch_size >= 1 and some rows")
    _check_shape(setup, xs.shape[1])
    gen = make_rng(rng)
    sampler = setup.sampler()
    total = len(xs) * -(-views // len(xs))
    order = np.arange(total) % len(xs)
    tensor = torch.as_tensor(patch, dtype=torch.float32)
    hits, seen, stopped = 0, 0, None
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, total, batch_size):
            rows = order[start : start + batch_size]
            images = torch.as_tensor(xs[rows], dtype=torch.float32).reshape(-1, *setup.image_shape)
            flat = sampler.compose(images, tensor, sampler.sample(len(rows), gen))
            flat_np = flat.reshape(len(rows), -1).double().numpy()
            try:
                pred = np.asarray(predict_fn(flat_np)).reshape(-1)
            except QueryBudgetExceeded:
                stopped = "budget"
                break
            hit = pred == ys[rows] if targeted else pred != ys[rows]
            hits, seen = hits + int(hit.sum()), seen + len(rows)
            if sum(len(k[1]) for k in kept) < examples and hit.any():
                pick = np.flatnonzero(hit)[:examples]
                kept.append((flat_np[pick], rows[pick], pred[pick]))
    return _evaluation(hits, seen, len(xs), stopped, kept, examples)


def _evaluation(
    hits: int,
    seen: int,
    images: int,
    stopped: str | None,
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    examples: int,
) -> PatchEvaluation:
    """Assemble the evaluation record, with at most `examples` fooled views."""
    ev = PatchEvaluation(hits / max(seen, 1), seen, hits, images, stopped)
    if kept:
        ev.examples = np.concatenate([k[0] for k in kept])[:examples]
        ev.example_rows = np.concatenate([k[1] for k in kept])[:examples].astype(np.int64)
        ev.example_pred = np.concatenate([k[2] for k in kept])[:examples].astype(np.int64)
    return ev


def _check_shape(setup: PatchSetup, d: int) -> None:
    """Rows must be flattened images of setup.image_shape."""
    if len(setup.image_shape) != 3 or int(np.prod(setup.image_shape)) != d:
        raise ProbeError(f"image_shape {setup.image_shape} does not match rows of {d} values")

"""Expectation over transformation (Athalye et al., 2018): a seeded sampler of physical-world
style transformations for (C, H, W) images, and their differentiable application in torch.

A patch is pasted at a random position with a random rotation and scale; brightness (additive
and multiplicative) and Gaussian sensor noise then apply to the whole composed image. The
parameters are drawn in numpy from a seeded generator, so a set of views is reproducible; the
composition runs in torch (affine_grid / grid_sample) so that gradients flow back to the patch.
torch is imported lazily: without the `torch` extra this module imports, but composing fails
with a one-line ProbeError naming the install command.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from redwatch.exceptions import ProbeError

if TYPE_CHECKING:
    import torch


def load_torch() -> Any:
    """The torch module, or a ProbeError naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise ProbeError("patch attacks need PyTorch: pip install redwatch[torch]") from None
    return torch


@dataclass(frozen=True)
class TransformRanges:
    """How far each transformation may go. Angles in degrees; brightness in clip units."""

    rotation: float = 20.0  # ± degrees applied to the patch
    scale: tuple[float, float] = (0.8, 1.2)  # patch side multiplier
    brightness: float = 0.1  # ± additive shift of the whole image
    contrast: tuple[float, float] = (0.9, 1.1)  # multiplicative factor of the whole image
    noise: float = 0.02  # standard deviation of Gaussian noise per pixel

    def check(self) -> TransformRanges:
        """Validate the ranges; ProbeError naming the bad one."""
        if self.rotation < 0 or self.brightness < 0 or self.noise < 0:
            raise ProbeError("rotation, brightness and noise ranges must be non-negative")
        for name, (lo, hi) in (("scale", self.scale), ("contrast", self.contrast)):
            if not 0 < lo <= hi:
                raise ProbeError(f"{name} range must satisfy 0 < low <= high, got {(lo, hi)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for finding metrics."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Views:
    """Parameters of n transformed views, one row per view."""

    center: np.ndarray  # (n, 2) patch centre (x, y) in pixels
    angle: np.ndarray  # (n,) rotation in radians
    scale: np.ndarray  # (n,) patch side multiplier
    add: np.ndarray  # (n,) additive brightness
    mul: np.ndarray  # (n,) multiplicative contrast
    noise_seed: int  # seeds the per-pixel noise of these views

    def __len__(self) -> int:
        return len(self.angle)


def patch_side(image_shape: tuple[int, ...], area: float) -> int:
    """Side in pixels of a square patch covering `area` (fraction) of the image."""
    if not 0 < area <= 1:
        raise ProbeError(f"patch size must be a fraction of the image area in (0, 1], got {area}")
    _, h, w = image_shape
    return max(1, min(h, w, round(math.sqrt(area * h * w))))


class EOTSampler:
    """Draws transformation parameters and composes patched views of (C, H, W) images."""

    def __init__(
        self,
        image_shape: tuple[int, ...],
        side: int,
        ranges: TransformRanges | None = None,
        clip: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if len(image_shape) != 3:
            raise ProbeError(f"image_shape must be (C, H, W), got {image_shape}")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.side = int(side)
        self.ranges = (ranges or TransformRanges()).check()
        self.clip = clip

    def sample(self, n: int, rng: np.random.Generator) -> Views:
        """Parameters of n random views; the patch always lies (unrotated) inside the image."""
        r = self.ranges
        _, h, w = self.image_shape
        scale = rng.uniform(r.scale[0], r.scale[1], size=n)
        half = self.side * scale / 2.0
        cx = rng.uniform(np.minimum(half, w / 2), np.maximum(w - half, w / 2))
        cy = rng.uniform(np.minimum(half, h / 2), np.maximum(h - half, h / 2))
        return Views(
            center=np.stack([cx, cy], axis=1),
            angle=np.deg2rad(rng.uniform(-r.rotation, r.rotation, size=n)),
            scale=scale,
            add=rng.uniform(-r.brightness, r.brightness, size=n),
            mul=rng.uniform(r.contrast[0], r.contrast[1], size=n),
            noise_seed=int(rng.integers(0, 2**31 - 1)),
        )

    def compose(
        self, images: torch.Tensor, patch: torch.Tensor, views: Views, *, noise: bool = True
    ) -> torch.Tensor:
        """Paste `patch` (C, s, s) into `images` (n, C, H, W) under `views`; differentiable
        w.r.t. the patch. Brightness, contrast and noise apply to the whole image, then
        values are clipped to the pixel range."""
        torch = load_torch()
        n = len(views)
        c, h, w = self.image_shape
        if images.shape != (n, c, h, w):
            raise ProbeError(f"expected {n} images of shape {self.image_shape}")
        canvas, alpha = self._canvas(patch, images.dtype)
        theta = torch.as_tensor(self._theta(views), dtype=images.dtype)
        grid = torch.nn.functional.affine_grid(theta, [n, c, h, w], align_corners=False)
        layer = torch.nn.functional.grid_sample(
            canvas.expand(n, c, h, w), grid, align_corners=False, padding_mode="zeros"
        )
        cover = torch.nn.functional.grid_sample(
            alpha.expand(n, 1, h, w), grid, align_corners=False, padding_mode="zeros"
        )
        out = images * (1.0 - cover) + layer  # canvas is zero off the patch: premultiplied
        out = out * _col(torch, views.mul, out) + _col(torch, views.add, out)
        if noise and self.ranges.noise > 0:
            gen = torch.Generator().manual_seed(views.noise_seed)
            out = out + self.ranges.noise * torch.randn(out.shape, generator=gen, dtype=out.dtype)
        return torch.clamp(out, self.clip[0], self.clip[1])

    def _canvas(self, patch: torch.Tensor, dtype: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The patch centred on an empty image, and its coverage mask."""
        torch = load_torch()
        c, h, w = self.image_shape
        s = self.side
        if tuple(patch.shape) != (c, s, s):
            raise ProbeError(f"patch must have shape {(c, s, s)}, got {tuple(patch.shape)}")
        top, left = (h - s) // 2, (w - s) // 2
        pad = (left, w - s - left, top, h - s - top)
        canvas = torch.nn.functional.pad(patch.to(dtype), pad)[None]
        alpha = torch.nn.functional.pad(torch.ones((1, s, s), dtype=dtype), pad)[None]
        return canvas, alpha

    def _theta(self, views: Views) -> np.ndarray:
        """Affine maps (n, 2, 3) from output to canvas coordinates, in grid_sample's
        normalized units; built in pixels so that rotation stays a rotation on non-square
        images."""
        _, h, w = self.image_shape
        top, left = (h - self.side) // 2, (w - self.side) // 2
        canvas_centre = np.array([left + self.side / 2.0, top + self.side / 2.0])
        cos, sin = np.cos(views.angle) / views.scale, np.sin(views.angle) / views.scale
        m = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)  # (n, 2, 2)
        d = np.array([2.0 / w, 2.0 / h])
        a = m * d[None, :, None] / d[None, None, :]
        centre_n = views.center * d - 1.0  # patch centre in normalized output coordinates
        src_n = canvas_centre * d - 1.0  # where that point lies on the canvas
        t = src_n[None, :] - np.einsum("nij,nj->ni", a, centre_n)
        return np.concatenate([a, t[:, :, None]], axis=2)


def _col(torch: Any, values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Per-view scalars shaped to broadcast over (n, C, H, W)."""
    return torch.as_tensor(values, dtype=like.dtype).reshape(-1, 1, 1, 1)

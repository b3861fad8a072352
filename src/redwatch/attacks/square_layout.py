"""Where the Square Attack puts its windows: square patches of an image, or runs of
consecutive mutable features for tabular data."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import ProbeError


@dataclass(frozen=True)
class Layout:
    """An image (c, h, w), flattened channel-first, or a 1-D run of mutable features."""

    image: tuple[int, int, int] | None
    mutable: np.ndarray  # indices of the mutable features
    mask: np.ndarray  # (d,) bool


def make_layout(d: int, mask: np.ndarray, image_shape: tuple[int, ...] | None) -> Layout:
    """Image when `image_shape` is given ((h, w) or (c, h, w)); tabular otherwise. No guessing
    from d: a table with 64 columns is not an 8x8 picture."""
    shape: tuple[int, int, int] | None = None
    if image_shape is not None:
        dims = tuple(int(v) for v in image_shape)
        dims = (1, *dims) if len(dims) == 2 else dims
        if len(dims) != 3 or math.prod(dims) != d:
            raise ProbeError(f"image_shape {image_shape} does not match {d} features")
        shape = (dims[0], dims[1], dims[2])
    mutable = np.flatnonzero(mask)
    if len(mutable) == 0:
        raise ProbeError("the mask leaves no feature to perturb")
    return Layout(shape, mutable, mask)

"""Figures of the audit, made from the campaign's own data: evidence images (arrays saved
by the engine) as PNG data URIs, and membership ROC curves on log axes as inline SVG, so
that the HTML and PDF stay single self-contained files."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.reports.plots import _finish, _safe, _style

MAX_IMAGES = 16
MIN_CELL = 56  # pixels: small images (8x8 digits) are enlarged without smoothing
IMAGE_KIND = "image"


def image_uri(root: Path, item: dict[str, Any]) -> str | None:
    """A data:image/png URI tiling the first images of an evidence item of kind "image"
    (arrays saved under root/item["path"], key "images"); None when there is none."""
    path = item.get("path")
    if item.get("kind") != IMAGE_KIND or not path:
        return None
    file = (root / path).resolve()
    if root.resolve() not in file.parents or not file.is_file():
        return None
    with np.load(file, allow_pickle=False) as saved:
        if "images" not in saved.files:
            return None
        images = np.asarray(saved["images"], dtype=np.float64)
    return "data:image/png;base64," + base64.b64encode(png_grid(images)).decode("ascii")


def png_grid(images: np.ndarray) -> bytes:
    """PNG bytes of up to MAX_IMAGES images in one row-major grid (grey or RGB), values
    clipped to [0, 1], each enlarged by an integer factor to at least MIN_CELL pixels."""
    tiles = _hwc(images[:MAX_IMAGES])
    n, h, w, c = tiles.shape
    scale = max(1, -(-MIN_CELL // max(h, w)))
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    cols = min(n, 8)
    rows = -(-n // cols)
    pad = 4
    cell_h, cell_w = tiles.shape[1] + pad, tiles.shape[2] + pad
    grid = np.ones((rows * cell_h + pad, cols * cell_w + pad, c))
    for i, tile in enumerate(tiles):
        r, k = divmod(i, cols)
        y, x = pad + r * cell_h, pad + k * cell_w
        grid[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, grid[..., 0] if c == 1 else grid, format="png", cmap="gray", vmin=0, vmax=1)
    return buffer.getvalue()


def _hwc(images: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) (C = 1 or 3) -> (n, H, W, C) clipped to [0, 1]."""
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"evidence images must be (n, H, W) or (n, C, H, W), got {images.shape}")
    return np.clip(np.nan_to_num(images.transpose(0, 2, 3, 1)), 0.0, 1.0)


def roc_svg(roc: dict[str, list[dict[str, Any]]], *, title: str, id_prefix: str) -> str | None:
    """Log-log ROC curves (one line per attack) with the chance diagonal; None when no
    attack has a point with positive rates."""
    curves = {
        name: [(float(p["fpr"]), float(p["tpr"])) for p in points if _positive(p)]
        for name, points in roc.items()
        if isinstance(points, list)
    }
    curves = {name: pts for name, pts in curves.items() if pts}
    if not curves:
        return None
    with _style():
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 3.6), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        low = min(x for pts in curves.values() for x, _ in pts)
        ax.plot([low, 1.0], [low, 1.0], ":", color="0.5", label="chance")
        for i, (name, pts) in enumerate(sorted(curves.items())):
            xs, ys = zip(*sorted(pts), strict=True)
            ax.plot(xs, ys, "o-", markersize=3, color=f"C{i % 10}", label=_safe(name))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(_safe(title))
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.grid(True, which="both", alpha=0.25)
        return _finish(fig, ax, id_prefix)


def _positive(point: Any) -> bool:
    if not isinstance(point, dict):
        return False
    fpr, tpr = point.get("fpr"), point.get("tpr")
    return isinstance(fpr, int | float) and isinstance(tpr, int | float) and fpr > 0 and tpr > 0

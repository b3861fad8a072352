"""EOT sampler: exact placement, rotation, gradients to the patch, ranges, seeding, bounds."""

import numpy as np
import pytest
import torch

from redwatch.attacks.eot import EOTSampler, TransformRanges, Views, patch_side
from redwatch.exceptions import ProbeError

STILL = TransformRanges(
    rotation=0.0, scale=(1.0, 1.0), brightness=0.0, contrast=(1.0, 1.0), noise=0.0
)


def _views(centers: list[tuple[float, float]], angle_deg: float = 0.0) -> Views:
    n = len(centers)
    return Views(
        center=np.asarray(centers, dtype=float),
        angle=np.full(n, np.deg2rad(angle_deg)),
        scale=np.ones(n),
        add=np.zeros(n),
        mul=np.ones(n),
        noise_seed=0,
    )


def _patch(c: int, s: int) -> torch.Tensor:
    return torch.arange(c * s * s, dtype=torch.float64).reshape(c, s, s) / (c * s * s)


def test_patch_lands_exactly_where_asked_and_leaves_the_rest_alone() -> None:
    sampler = EOTSampler((2, 12, 16), side=4, ranges=STILL)
    images = torch.full((2, 2, 12, 16), 0.5, dtype=torch.float64)
    patch = _patch(2, 4)
    # centres in edge-based pixel coordinates: top-left corners at (x=3, y=1) and (x=10, y=6)
    out = sampler.compose(images, patch, _views([(5.0, 3.0), (12.0, 8.0)])).numpy()
    expected = np.full((2, 2, 12, 16), 0.5)
    expected[0, :, 1:5, 3:7] = patch.numpy()
    expected[1, :, 6:10, 10:14] = patch.numpy()
    np.testing.assert_allclose(out, expected, atol=1e-9)


def test_a_quarter_turn_rotates_the_patch_on_a_non_square_image() -> None:
    sampler = EOTSampler((1, 10, 14), side=4, ranges=STILL)
    images = torch.zeros((1, 1, 10, 14), dtype=torch.float64)
    patch = _patch(1, 4)
    out = sampler.compose(images, patch, _views([(7.0, 5.0)], angle_deg=90.0)).numpy()
    placed = out[0, 0, 3:7, 5:9]
    turned = [np.rot90(patch.numpy()[0], k) for k in (1, 3)]  # either sense of rotation
    assert min(np.abs(placed - t).max() for t in turned) < 1e-6
    assert np.abs(out[0, 0]).sum() == pytest.approx(np.abs(placed).sum())


def test_gradients_reach_every_visible_patch_pixel() -> None:
    sampler = EOTSampler((1, 28, 28), side=6, ranges=STILL)
    patch = torch.full((1, 6, 6), 0.5, requires_grad=True)
    images = torch.zeros((3, 1, 28, 28))
    out = sampler.compose(images, patch, _views([(5.0, 5.0), (14.0, 14.0), (20.0, 9.0)]))
    out.sum().backward()
    assert patch.grad is not None
    np.testing.assert_allclose(patch.grad.numpy(), 3.0, atol=1e-5)


def test_sampled_views_respect_the_ranges_and_are_reproducible() -> None:
    ranges = TransformRanges(rotation=15.0, scale=(0.7, 1.3), brightness=0.2, contrast=(0.8, 1.2))
    sampler = EOTSampler((1, 28, 28), side=9, ranges=ranges)
    views = sampler.sample(5000, np.random.default_rng(3))
    again = sampler.sample(5000, np.random.default_rng(3))
    np.testing.assert_array_equal(views.center, again.center)
    assert np.abs(np.rad2deg(views.angle)).max() <= 15.0
    assert views.scale.min() >= 0.7
    assert views.scale.max() <= 1.3
    assert np.abs(views.add).max() <= 0.2
    assert views.mul.min() >= 0.8
    assert views.mul.max() <= 1.2
    half = 9 * views.scale / 2
    assert np.all(views.center - half[:, None] >= -1e-9)
    assert np.all(views.center + half[:, None] <= 28 + 1e-9)
    # positions cover the image, not one spot
    assert np.ptp(views.center[:, 0]) > 15
    assert np.ptp(views.center[:, 1]) > 15


def test_composed_views_stay_inside_the_pixel_range() -> None:
    ranges = TransformRanges(brightness=0.5, contrast=(0.5, 2.0), noise=0.3)
    sampler = EOTSampler((1, 28, 28), side=9, ranges=ranges, clip=(0.0, 1.0))
    images = torch.rand((64, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    out = sampler.compose(
        images, torch.ones((1, 9, 9)), sampler.sample(64, np.random.default_rng(0))
    )
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0
    assert float(out.std()) > 0.1


def test_patch_side_and_bad_settings() -> None:
    assert patch_side((1, 28, 28), 0.1) == 9
    assert patch_side((3, 32, 32), 1.0) == 32
    with pytest.raises(ProbeError, match="fraction"):
        patch_side((1, 28, 28), 0.0)
    with pytest.raises(ProbeError, match="scale"):
        EOTSampler((1, 28, 28), 9, TransformRanges(scale=(1.2, 0.8)))
    with pytest.raises(ProbeError, match="C, H, W"):
        EOTSampler((28, 28), 9)
    sampler = EOTSampler((1, 28, 28), 9)
    with pytest.raises(ProbeError, match="patch must have shape"):
        sampler.compose(
            torch.zeros((1, 1, 28, 28)),
            torch.zeros((1, 5, 5)),
            sampler.sample(1, np.random.default_rng(0)),
        )

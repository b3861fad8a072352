"""Building blocks of the L2 Square proposal: bumps, window sides, initial perturbation."""

from __future__ import annotations

import numpy as np
import pytest

from redwatch.attacks import square_l2
from redwatch.attacks.square_layout import make_layout
from redwatch.exceptions import ProbeError


@pytest.mark.parametrize(
    ("d", "shape"), [(64, (8, 8)), (784, (1, 28, 28)), (64, None), (30, None), (3, None)]
)
def test_bumps_are_unit_and_inside_one_window(d: int, shape: tuple[int, ...] | None) -> None:
    layout = make_layout(d, np.ones(d, dtype=bool), shape)
    image = shape is not None
    assert (layout.image is not None) == image  # never guessed from d alone
    s = square_l2.side(layout, 0.1)
    b = square_l2.bumps(layout, 40, s, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0)
    assert np.all((b != 0).sum(axis=1) == (s * s if image else s))
    if s > 1:  # two halves of opposite sign
        assert np.all((b > 0).any(axis=1) & (b < 0).any(axis=1))


def test_initial_perturbation_has_norm_eps_on_mutable_features() -> None:
    mask = np.arange(64) >= 8
    layout = make_layout(64, mask, (8, 8))
    start = square_l2.initial(layout, 25, 0.7, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(start, axis=1), 0.7)
    assert np.all(start[:, ~mask] == 0)


def test_layout_rejects_bad_declarations() -> None:
    with pytest.raises(ProbeError, match="image_shape"):
        make_layout(64, np.ones(64, bool), (3, 5, 5))
    with pytest.raises(ProbeError, match="mask"):
        make_layout(4, np.zeros(4, bool), None)

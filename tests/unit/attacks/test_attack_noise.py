"""Random-noise perturbations: size, mask and box, and their effect on a real model."""

from __future__ import annotations

import numpy as np
import pytest
from _attack_models import digits

from redwatch.attacks import random_noise
from redwatch.attacks.base import lp_norm
from redwatch.exceptions import ProbeError


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_noise_has_the_requested_size_inside_mask(norm: str) -> None:
    x = np.full((200, 10), 0.5)
    mask = np.arange(10) < 6
    out = random_noise(x, 0.2, norm=norm, mask=mask, rng=np.random.default_rng(0))
    size = lp_norm(out - x, norm)
    assert np.all(size <= 0.2 + 1e-12)
    if norm == "2":
        np.testing.assert_allclose(size, 0.2)  # full budget when the box does not cut
    else:
        assert size.max() > 0.19
    np.testing.assert_array_equal(out[:, ~mask], x[:, ~mask])


def test_noise_is_clipped_and_weaker_than_an_attack() -> None:
    m = digits()
    out = random_noise(m.x, 0.1, rng=np.random.default_rng(0))
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert np.mean(m.predict(out) != m.y) < 0.3
    np.testing.assert_array_equal(random_noise(m.x, 0.0), m.x)
    with pytest.raises(ProbeError):
        random_noise(m.x, -1.0)

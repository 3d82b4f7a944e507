"""Non-scattering images: every kind is drawn, reproducibly, as finite non-negative 2-D frames."""
from __future__ import annotations

import numpy as np

from xicam.camsort.negatives import KINDS, not_scattering_batch


def test_every_kind_reproducible_and_valid():
    a, b = not_scattering_batch(len(KINDS), seed=5), not_scattering_batch(len(KINDS), seed=5)
    assert len(a) == len(KINDS)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        assert x.ndim == 2 and min(x.shape) >= 200 and np.isfinite(x).all() and x.min() >= 0
    assert not np.array_equal(a[2], not_scattering_batch(len(KINDS), seed=6)[2])

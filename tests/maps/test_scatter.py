"""The scattered blur (each fixation's truncated kernel added in place) equals the tiled matrix product."""

from __future__ import annotations

import numpy as np
import pytest

from saliency.errors import SchemaError
from saliency.maps.fusion import SeparableGaussian
from saliency.maps.scatter import blur_points, compact_support


@pytest.mark.parametrize("mode", ["constant", "reflect", "mit_fft"])
def test_scatter_equals_the_matrix_product_and_its_total_the_map_sum(mode):
    rng = np.random.default_rng(3)
    g = SeparableGaussian(60, 90, 4.0, mode)
    x, y = rng.uniform(0, 90, 200), rng.uniform(0, 60, 200)
    x[:5], y[:5] = 0.0, 59.99                       # corners and repeats: edge responses, duplicates
    w = rng.uniform(0, 3, 200)
    ref = g.blur(x, y, w)
    buf = np.full((60, 90), np.nan, np.float32)      # whatever the buffer held before is overwritten
    got, total = blur_points(g, x, y, w, out=buf)
    assert got is buf and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * ref.max())
    assert compact_support(g) == (mode != "mit_fft")
    if mode == "mit_fft":
        assert total is None
    else:
        assert total == pytest.approx(float(ref.sum(dtype=np.float64)), rel=1e-6)


def test_no_fixations_give_a_zero_map_and_points_outside_are_an_error():
    g = SeparableGaussian(60, 90, 2.0)
    m, total = blur_points(g, np.zeros(0), np.zeros(0))
    assert not m.any() and total == 0.0
    with pytest.raises(SchemaError, match="outside"):
        blur_points(g, np.array([90.0]), np.array([1.0]))

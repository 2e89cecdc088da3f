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
    got, total, peak = blur_points(g, x, y, w, out=buf)
    assert got is buf and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * ref.max())
    assert compact_support(g) == (mode != "mit_fft")
    if mode == "mit_fft":
        assert total is None and peak is None
    else:
        assert total == pytest.approx(float(ref.sum(dtype=np.float64)), rel=1e-6)
        assert peak == float(got.max())             # taken row by row on the way: exactly the map's max


def test_no_fixations_give_a_zero_map_and_points_outside_are_an_error():
    g = SeparableGaussian(60, 90, 2.0)
    m, total, peak = blur_points(g, np.zeros(0), np.zeros(0))
    assert not m.any() and total == 0.0 and peak == 0.0
    with pytest.raises(SchemaError, match="outside"):
        blur_points(g, np.array([90.0]), np.array([1.0]))


def test_the_peak_taken_on_the_way_is_the_maximum_when_rows_are_left_untouched():
    g = SeparableGaussian(60, 90, 2.0)
    x, y = np.array([10.0, 40.5, 41.0, 80.0]), np.array([3.0, 5.5, 5.0, 20.0])   # rows ≥ 29 reached by none
    m, _, peak = blur_points(g, x, y, np.array([1.0, 0.5, 2.0, 1.5]))
    assert not m[30:].any() and peak == float(m.max()) > 0

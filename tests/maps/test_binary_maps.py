"""``MapOptions(binary=True)``: the MIT README's ground truth blurs the BINARY fixation map (each fixated pixel
once), not the fixation count map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from saliency.errors import ConfigError
from saliency.maps import MapOptions, SeparableGaussian, fixation_weights, stimulus_map


def _rows() -> pd.DataFrame:
    # pixel (3, 5) fixated three times (two of them at sub-pixel offsets), pixel (10, 20) once
    return pd.DataFrame({"x": [5.2, 5.9, 5.0, 20.5], "y": [3.1, 3.7, 3.0, 10.2], "index": [1, 2, 3, 1],
                         "observer": ["a", "b", "c", "a"], "duration_ms": [200.0] * 4})


@pytest.mark.parametrize("mode", ["constant", "mit_fft"])
def test_binary_map_counts_each_fixated_pixel_once(mode):
    h, w = 24, 32
    blur = SeparableGaussian(h, w, 3.0, mode=mode)
    binary = stimulus_map(_rows(), blur, MapOptions(sigma=3.0, mode=mode, binary=True), dtype=np.float64)
    counts = stimulus_map(_rows(), blur, MapOptions(sigma=3.0, mode=mode), dtype=np.float64)
    once = stimulus_map(_rows().iloc[[0, 3]], blur, MapOptions(sigma=3.0, mode=mode), dtype=np.float64)
    np.testing.assert_allclose(binary, once, rtol=1e-6, atol=1e-12)
    assert not np.allclose(binary, counts)
    np.testing.assert_array_equal(fixation_weights(_rows(), MapOptions(binary=True)), [1, 0, 0, 1])


def test_binary_maps_reject_weightings_and_round_trip():
    with pytest.raises(ConfigError, match="binary"):
        MapOptions(binary=True, duration_weighted=True)
    o = MapOptions(mode="mit_fft", binary=True)
    assert MapOptions.from_dict(o.to_dict()) == o
    assert MapOptions.from_dict({k: v for k, v in MapOptions().to_dict().items() if k != "binary"}).binary is False

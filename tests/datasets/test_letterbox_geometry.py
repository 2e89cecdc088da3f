"""Letterbox placement and its inverse: points exact, maps area-preserving (sum 1, flat stays flat)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency.datasets import Letterbox


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 1200), w=st.integers(1, 1200), oh=st.integers(8, 400), ow=st.integers(8, 400),
       fx=st.floats(0, 1, exclude_max=True), fy=st.floats(0, 1, exclude_max=True))
def test_points_round_trip_exactly(h, w, oh, ow, fx, fy):
    lb = Letterbox.fit(h, w, oh, ow)
    x, y = np.array([fx * w]), np.array([fy * h])
    cx, cy = lb.points_to_canvas(x, y)
    assert 0 <= cx[0] <= ow and 0 <= cy[0] <= oh
    bx, by = lb.points_to_stimulus(cx, cy)
    np.testing.assert_allclose(bx, x, rtol=0, atol=1e-9 * max(w, 1))
    np.testing.assert_allclose(by, y, rtol=0, atol=1e-9 * max(h, 1))


def test_aspect_ratio_is_kept_and_padding_is_centred():
    lb = Letterbox.fit(600, 800, 192, 192)  # landscape into a square
    assert (lb.content_height, lb.content_width) == (144, 192)
    assert (lb.top, lb.left) == (24, 0)
    lb = Letterbox.fit(600, 800, 192, 256)  # same aspect: no padding, scale 0.32
    assert (lb.top, lb.left, lb.content_height, lb.content_width) == (0, 0, 192, 256)
    assert lb.sx == lb.sy == pytest.approx(0.32)


def test_image_corners_map_to_content_corners():
    lb = Letterbox.fit(321, 481, 320, 320)
    x, y = lb.points_to_canvas(np.array([0.0, 481.0]), np.array([0.0, 321.0]))
    np.testing.assert_allclose(x, [lb.left, lb.left + lb.content_width])
    np.testing.assert_allclose(y, [lb.top, lb.top + lb.content_height])


@pytest.mark.parametrize("size", [(600, 800), (321, 481), (481, 321), (90, 70)])
def test_density_goes_back_as_a_probability_map(size):
    h, w = size
    rng = np.random.default_rng(0)
    d = rng.random((h, w)).astype(np.float32)
    d /= d.sum()
    lb = Letterbox.fit(h, w, 96, 128)
    canvas = lb.density_to_canvas(d)
    assert canvas.shape == (96, 128)
    assert canvas.sum(dtype=np.float64) == pytest.approx(1, abs=1e-5)
    pad = np.ones_like(canvas, bool)
    pad[lb.top:lb.top + lb.content_height, lb.left:lb.left + lb.content_width] = False
    assert np.all(canvas[pad] == 0)  # no mass in the padding
    back = lb.density_to_stimulus(canvas)
    assert back.shape == (h, w)
    assert back.sum(dtype=np.float64) == pytest.approx(1, abs=1e-5)
    flat = lb.density_to_stimulus(lb.density_to_canvas(np.full((h, w), 1 / (h * w), np.float32)))
    np.testing.assert_allclose(flat, 1 / (h * w), rtol=1e-3)


def test_mass_of_a_region_is_preserved_through_the_round_trip():
    """Area preservation: the mass of the left half stays the mass of the left half."""
    h, w = 600, 800
    d = np.zeros((h, w), np.float32)
    d[:, :200] = 3.0
    d[:, 200:] = 1.0
    d /= d.sum()
    lb = Letterbox.fit(h, w, 150, 200)  # exact factor 4
    back = lb.density_to_stimulus(lb.density_to_canvas(d))
    assert back[:, :200].sum() == pytest.approx(d[:, :200].sum(), rel=1e-4)


def test_log_density_inverse_is_normalised():
    lb = Letterbox.fit(600, 800, 96, 96)
    logits = np.random.default_rng(1).normal(size=(96, 96))
    ld = logits - np.log(np.exp(logits).sum())
    back = lb.log_density_to_stimulus(ld)
    assert back.shape == (600, 800)
    assert np.exp(back.astype(np.float64)).sum() == pytest.approx(1, abs=1e-4)

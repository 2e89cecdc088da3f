"""Fusion of fixations into probability maps against references: scipy.ndimage.gaussian_filter (constant,
reflect) and a direct numpy re-implementation of the MIT benchmark's antonioGaussian (mit_fft)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter

from saliency.errors import ConfigError, SchemaError
from saliency.maps import (
    MapOptions,
    SeparableGaussian,
    fixation_count_map,
    fuse_fixations,
    leave_one_observer_out,
    mit_fc_to_sigma,
    mit_fft_size,
    mit_sigma_to_fc,
    normalize_map,
    stimulus_map,
)


def _scipy_reference(x, y, h, w, sigma, mode, weights=None, truncate=4.0):
    ref = gaussian_filter(fixation_count_map(x, y, h, w, weights), sigma, mode=mode, truncate=truncate)
    return ref / ref.sum()


def _antonio_gaussian(img: np.ndarray, fc: float) -> np.ndarray:
    """Direct transcription of antonioGaussian.m (Torralba 1999, cvzoya/saliency code_forMetrics):
    zero-pad to n×n (n = 2^ceil(log2(max side, made even))), multiply fft2 by fftshift(exp(-(fx²+fy²)/s²)),
    s = fc/sqrt(log 2), real(ifft2), crop."""
    sn, sm = img.shape
    n = max(sn, sm)
    n = n + n % 2
    n = 2 ** math.ceil(math.log2(n))
    fx, fy = np.meshgrid(np.arange(n), np.arange(n))
    fx, fy = fx - n / 2, fy - n / 2
    s = fc / math.sqrt(math.log(2))
    gf = np.fft.fftshift(np.exp(-(fx**2 + fy**2) / s**2))
    return np.real(np.fft.ifft2(np.fft.fft2(img, (n, n)) * gf))[:sn, :sm]


def _random_fixations(rng, n, h, w):
    x = rng.uniform(0, w, n)
    y = rng.uniform(0, h, n)
    # corners and edges, where boundary modes differ
    x[:4] = [0.0, w - 0.01, 1.5, w / 2]
    y[:4] = [0.0, h - 0.01, h - 2.0, 0.3]
    return x, y


@pytest.mark.parametrize("mode", ["constant", "reflect"])
@pytest.mark.parametrize(("h", "w", "sigma"), [(60, 80, 6.0), (45, 70, 3.3), (30, 20, 25.0), (7, 5, 40.0)])
def test_fuse_equals_scipy_gaussian_filter_of_count_map(mode, h, w, sigma):
    rng = np.random.default_rng(1)
    x, y = _random_fixations(rng, 40, h, w)
    m = fuse_fixations(x, y, h, w, sigma, mode=mode)
    ref = _scipy_reference(x, y, h, w, sigma, mode)
    assert m.dtype == np.float32 and m.shape == (h, w)
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()


@pytest.mark.parametrize("truncate", [2.0, 3.0, 4.0])
def test_truncation_matches_scipy(truncate):
    rng = np.random.default_rng(2)
    x, y = _random_fixations(rng, 25, 90, 120)
    m = fuse_fixations(x, y, 90, 120, 7.5, mode="constant", truncate=truncate)
    ref = _scipy_reference(x, y, 90, 120, 7.5, "constant", truncate=truncate)
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()


@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_real_osie_maps_equal_gaussian_filter(osie_small, mode):
    for name in osie_small.stimuli()[:3]:
        rows = osie_small.for_stimulus(name)
        info = osie_small.meta.stimuli[name]
        x, y = rows["x"].to_numpy(), rows["y"].to_numpy()
        m = fuse_fixations(x, y, info.height_px, info.width_px, 24.0, mode=mode)
        ref = _scipy_reference(x, y, info.height_px, info.width_px, 24.0, mode)
        assert np.abs(m - ref).max() <= 1e-5 * ref.max(), name


@pytest.mark.parametrize(("h", "w"), [(60, 80), (37, 64), (100, 33)])
def test_mit_fft_equals_antonio_gaussian(h, w):
    rng = np.random.default_rng(3)
    x, y = _random_fixations(rng, 30, h, w)
    fc = 5.0
    m = fuse_fixations(x, y, h, w, 1.0, mode="mit_fft", fc_cycles=fc)
    ref = _antonio_gaussian(fixation_count_map(x, y, h, w), fc)
    ref = np.maximum(ref, 0) / np.maximum(ref, 0).sum()
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()
    # σ given instead of fc: the same filter through the fc ↔ σ relation on the padded grid
    sigma = mit_fc_to_sigma(fc, mit_fft_size(h, w))
    m2 = fuse_fixations(x, y, h, w, sigma, mode="mit_fft")
    assert np.abs(m2 - ref).max() <= 1e-5 * ref.max()


def test_mit_cutoff_8_is_sigma_24_on_1024_grid():
    # MIT benchmark: antonioGaussian(fixationMap, 8) on 1024-px images ≈ σ 24 px
    assert mit_fft_size(768, 1024) == 1024 and mit_fft_size(600, 800) == 1024
    assert mit_fc_to_sigma(8.0, 1024) == pytest.approx(23.986, abs=1e-3)
    assert mit_sigma_to_fc(mit_fc_to_sigma(8.0, 1024), 1024) == pytest.approx(8.0)


def test_mit_fft_blur_has_the_requested_sigma():
    h = w = 256
    m = fuse_fixations(np.array([128.5]), np.array([128.5]), h, w, 9.0, mode="mit_fft").astype(np.float64)
    cols = m.sum(axis=0)
    j = np.arange(w)
    mean = (cols * j).sum()
    assert math.sqrt((cols * (j - mean) ** 2).sum()) == pytest.approx(9.0, rel=1e-3)


def test_count_map_uses_floor_pixels_and_weights():
    x = np.array([0.0, 0.99, 1.0, 4.5, 4.5])
    y = np.array([0.0, 0.5, 2.7, 1.0, 1.0])
    c = fixation_count_map(x, y, 3, 5, weights=np.array([1, 2, 3, 4, 5.0]))
    expected = np.zeros((3, 5))
    expected[0, 0] = 3
    expected[2, 1] = 3
    expected[1, 4] = 9
    np.testing.assert_array_equal(c, expected)


@pytest.mark.parametrize(("x", "y"), [(5.0, 0.0), (-0.1, 0.0), (0.0, 3.0), (np.nan, 1.0)])
def test_fixation_outside_the_image_is_a_schema_error(x, y):
    with pytest.raises(SchemaError, match="outside"):
        fixation_count_map(np.array([1.0, x]), np.array([1.0, y]), 3, 5)


def test_no_fixations_give_a_uniform_map():
    m = fuse_fixations(np.array([]), np.array([]), 4, 6, 2.0)
    np.testing.assert_allclose(m, np.full((4, 6), 1 / 24), rtol=1e-6)


def test_bad_mode_and_sigma_are_config_errors():
    with pytest.raises(ConfigError, match="mode"):
        fuse_fixations(np.array([1.0]), np.array([1.0]), 4, 4, 1.0, mode="nearest")
    with pytest.raises(ConfigError, match="sigma"):
        fuse_fixations(np.array([1.0]), np.array([1.0]), 4, 4, 0.0)


def test_normalize_max_gives_peak_one():
    rng = np.random.default_rng(4)
    x, y = _random_fixations(rng, 10, 30, 40)
    g = SeparableGaussian(30, 40, 3.0)
    m = normalize_map(g.blur(x, y), "max")
    assert m.max() == pytest.approx(1.0) and m.min() >= 0


def _frame(rng, n_obs=4, per=6, h=50, w=70):
    rows = []
    for o in range(n_obs):
        for i in range(per - o):  # observers with different numbers of fixations
            rows.append({"observer": f"s{o}", "trial": 0, "index": i, "x": rng.uniform(0, w),
                         "y": rng.uniform(0, h), "duration_ms": rng.uniform(80, 600), "source": f"r{o}.{i}",
                         "stimulus": "a"})
    return pd.DataFrame(rows)


def test_duration_weighted_map_weighs_by_duration():
    rng = np.random.default_rng(5)
    df = _frame(rng)
    g = SeparableGaussian(50, 70, 5.0)
    m = stimulus_map(df, g, MapOptions(sigma=5.0, duration_weighted=True))
    ref = _scipy_reference(df["x"], df["y"], 50, 70, 5.0, "constant", weights=df["duration_ms"].to_numpy())
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()


def test_observer_equal_map_gives_each_observer_weight_one():
    rng = np.random.default_rng(6)
    df = _frame(rng)
    g = SeparableGaussian(50, 70, 5.0)
    counts = df.groupby("observer")["x"].transform("size").to_numpy()
    m = stimulus_map(df, g, MapOptions(sigma=5.0, observer_equal=True))
    ref = _scipy_reference(df["x"], df["y"], 50, 70, 5.0, "constant", weights=1.0 / counts)
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()
    # combined with durations: each observer's durations scaled to sum 1
    both = stimulus_map(df, g, MapOptions(sigma=5.0, observer_equal=True, duration_weighted=True))
    d = df["duration_ms"].to_numpy()
    wts = d / df.groupby("observer")["duration_ms"].transform("sum").to_numpy()
    ref2 = _scipy_reference(df["x"], df["y"], 50, 70, 5.0, "constant", weights=wts)
    assert np.abs(both - ref2).max() <= 1e-5 * ref2.max()


def test_drop_first_leaves_out_index_zero():
    rng = np.random.default_rng(7)
    df = _frame(rng)
    g = SeparableGaussian(50, 70, 5.0)
    m = stimulus_map(df, g, MapOptions(sigma=5.0, drop_first=True))
    kept = df[df["index"] != 0]
    ref = _scipy_reference(kept["x"], kept["y"], 50, 70, 5.0, "constant")
    assert np.abs(m - ref).max() <= 1e-5 * ref.max()


def test_duration_weighting_without_durations_is_a_schema_error():
    df = _frame(np.random.default_rng(8))
    df.loc[3, "duration_ms"] = np.nan
    with pytest.raises(SchemaError, match="duration_ms"):
        stimulus_map(df, SeparableGaussian(50, 70, 5.0), MapOptions(sigma=5.0, duration_weighted=True))


def test_leave_one_observer_out_equals_map_of_the_others():
    rng = np.random.default_rng(9)
    df = _frame(rng)
    loo = leave_one_observer_out(df["x"], df["y"], df["observer"], 50, 70, 5.0, mode="reflect")
    assert sorted(loo) == ["s0", "s1", "s2", "s3"]
    for obs, m in loo.items():
        others = df[df["observer"] != obs]
        ref = _scipy_reference(others["x"], others["y"], 50, 70, 5.0, "reflect")
        assert np.abs(m - ref).max() <= 1e-5 * ref.max()
    alone = leave_one_observer_out(np.array([3.0]), np.array([3.0]), np.array(["only"]), 5, 5, 1.0)
    np.testing.assert_allclose(alone["only"], np.full((5, 5), 1 / 25), rtol=1e-6)


points = st.lists(st.tuples(st.floats(0, 47.999), st.floats(0, 31.999)), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(pts=points, mode=st.sampled_from(["constant", "reflect", "mit_fft"]), sigma=st.floats(0.5, 20.0))
def test_maps_are_non_negative_probability_maps(pts, mode, sigma):
    x, y = np.array(pts).T
    m = fuse_fixations(x, y, 32, 48, sigma, mode=mode)
    assert m.shape == (32, 48) and m.dtype == np.float32
    assert (m >= 0).all()
    assert float(m.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=30, deadline=None)
@given(pts=st.lists(st.tuples(st.integers(22, 40), st.integers(22, 40)), min_size=1, max_size=10),
       dx=st.integers(-10, 10), dy=st.integers(-10, 10))
def test_shifting_fixations_shifts_the_map(pts, dx, dy):
    """Away from the borders (truncated kernel of radius 12 ≤ distance to the edge), the map translates."""
    x, y = np.array(pts, dtype=float).T + 0.5
    a = fuse_fixations(x, y, 64, 64, 3.0, mode="constant")
    b = fuse_fixations(x + dx, y + dy, 64, 64, 3.0, mode="constant")
    np.testing.assert_allclose(np.roll(a, (dy, dx), axis=(0, 1)), b, atol=1e-6 * float(a.max()))


_FIXATION_MAP = """
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np
np.string_ = np.bytes_
import pysaliency
xs = np.array([0.4, 15.7, 7.2, 7.9, 3.5]); ys = np.array([0.2, 11.5, 6.0, 6.3, 10.9])
stimuli = pysaliency.Stimuli([np.zeros((12, 16, 3), np.uint8)])
f = pysaliency.Fixations.create_without_history(xs, ys, np.zeros(5, int))
m = pysaliency.FixationMap(stimuli, f, kernel_size=2.0).saliency_map(stimuli[0]); m /= m.sum()
print(json.dumps(m[[0, 11, 6, 10, 3], [0, 15, 7, 3, 12]].tolist()))
"""
FIXATION_MAP_GOLDEN = [0.028202147, 0.028201907, 0.0160645803, 0.0108609044, 0.0002282583]


def test_fixation_map_golden_values_are_pysaliencys(ref_python):
    import json
    import subprocess

    proc = subprocess.run([str(ref_python), "-c", _FIXATION_MAP], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the golden values are stored rounded to 1e-10
    np.testing.assert_allclose(json.loads(proc.stdout.strip().splitlines()[-1]), FIXATION_MAP_GOLDEN, rtol=0, atol=1e-10)


def test_reflect_mode_matches_pysaliency_fixation_map():
    """Golden values computed once with pysaliency 0.2.22 in .refvenv (re-checked live above):
    stimuli = pysaliency.Stimuli([np.zeros((12, 16, 3), np.uint8)]);
    f = pysaliency.Fixations.create_without_history(xs, ys, np.zeros(5, int));
    m = pysaliency.FixationMap(stimuli, f, kernel_size=2.0).saliency_map(stimuli[0]); m /= m.sum()
    (FixationMap's default convolution_mode is 'reflect'; it bins fixations with int(x))."""
    xs = np.array([0.4, 15.7, 7.2, 7.9, 3.5])
    ys = np.array([0.2, 11.5, 6.0, 6.3, 10.9])
    m = fuse_fixations(xs, ys, 12, 16, 2.0, mode="reflect")
    np.testing.assert_allclose(m[[0, 11, 6, 10, 3], [0, 15, 7, 3, 12]], FIXATION_MAP_GOLDEN, rtol=1e-6, atol=1e-9)

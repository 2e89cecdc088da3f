"""The contract every registered metric (``saliency.metrics.METRICS``) keeps, in both conventions: its
registered name and help, a finite score that ``compute`` averages, determinism, invariance to the
prediction's scale, a ground-truth-shaped prediction beating a flat noisy one in the metric's own
direction, skipping images without fixations (fixation metrics only), ``reset``, and a typed error when an
input it needs is missing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saliency.errors import ConfigError
from saliency.metrics.conventions import CONVENTIONS
from saliency.metrics.streaming import METRICS

H, W = 96, 128  # EMD scores maps downsampled 32×: 3 × 4 cells
CASES = [(name, conv) for name in METRICS.names() for conv in CONVENTIONS]
IDS = [f"{n}-{c}" for n, c in CASES]


def _inputs(seed: int = 0) -> dict:
    """Fixations around two peaks, the density they make, shuffled negatives and a centre baseline."""
    rng = np.random.default_rng(seed)
    peaks = np.array([[32.0, 24.0], [96.0, 68.0]])
    pts = peaks[rng.integers(0, 2, 40)] + rng.normal(0, 6.0, (40, 2))
    pts = np.clip(pts, 0, [W - 1e-6, H - 1e-6])
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    density = sum(np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 12.0**2)) for px, py in peaks)
    # no floor: bicubic down-sampling (EMD) overshoots below zero next to the empty regions, and EMD
    # (today's EMD.m, FastEMD) accepts those negative masses
    density = density / density.sum()
    baseline = np.exp(-((xx - W / 2) ** 2 + (yy - H / 2) ** 2) / (2 * 40.0**2))
    baseline /= baseline.sum()
    neg = rng.uniform([0, 0], [W, H], (200, 2))
    return {"x_px": pts[:, 0], "y_px": pts[:, 1], "density": density, "neg_x_px": neg[:, 0],
            "neg_y_px": neg[:, 1], "baseline": baseline, "shape": (H, W)}


def _metric(name: str, conv: str):
    return METRICS.get(name)(conv, seed=0)


def test_every_metric_is_registered_under_its_name_with_help():
    for name in METRICS.names():
        assert METRICS.get(name).name == name and METRICS.help(name)


@pytest.mark.parametrize(("name", "conv"), CASES, ids=IDS)
def test_score_is_finite_and_compute_averages_it(name, conv):
    inp = _inputs()
    m = _metric(name, conv)
    values = [m.update(inp["density"] * 7.0 + 1e-9, **inp),
              m.update(np.random.default_rng(1).random((H, W)) + 0.1, **inp)]
    assert all(math.isfinite(v) for v in values)
    out = m.compute()
    assert out["metric"] == name and out["convention"] == conv and out["n_images"] == 2
    assert out["mean"] == pytest.approx(np.mean(values), rel=1e-12)


@pytest.mark.parametrize(("name", "conv"), CASES, ids=IDS)
def test_deterministic_and_invariant_to_the_prediction_scale(name, conv):
    inp = _inputs()
    pred = np.random.default_rng(2).random((H, W)) + 0.05
    a = _metric(name, conv).update(pred, **inp)
    b = _metric(name, conv).update(pred, **inp)
    c = _metric(name, conv).update(pred * 13.0, **inp)
    assert a == b
    assert c == pytest.approx(a, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("name", "conv"), CASES, ids=IDS)
def test_the_ground_truth_beats_a_flat_noisy_map(name, conv):
    inp = _inputs()
    cls = METRICS.get(name)
    good = _metric(name, conv).update(inp["density"], **inp)
    bad = _metric(name, conv).update(1.0 + 0.01 * np.random.default_rng(3).random((H, W)), **inp)
    assert (good > bad) if cls.higher_is_better else (good < bad), (good, bad)


@pytest.mark.parametrize(("name", "conv"), CASES, ids=IDS)
def test_images_without_fixations_and_reset(name, conv):
    inp = {**_inputs(), "x_px": np.array([]), "y_px": np.array([])}
    m = _metric(name, conv)
    v = m.update(inp["density"] + 0.01, **inp)
    if m.fixation_based:
        assert math.isnan(v) and m.compute()["n_skipped"] == 1 and m.compute()["n_images"] == 0
    else:
        assert math.isfinite(v) and m.compute()["n_images"] == 1
    m.reset()
    assert m.compute()["n_images"] == 0 and m.compute()["n_skipped"] == 0


@pytest.mark.parametrize(("name", "conv"), CASES, ids=IDS)
def test_a_missing_input_is_a_config_error(name, conv):
    inp = _inputs()
    m = _metric(name, conv)
    needed = [k for k, flag in (("density", m.needs_density), ("baseline", m.needs_baseline),
                                ("neg_x_px", m.needs_negatives)) if flag]
    for key in needed:
        with pytest.raises(ConfigError, match=name):
            m.update(inp["density"], **{**inp, key: None})

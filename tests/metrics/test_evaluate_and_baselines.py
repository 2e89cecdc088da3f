"""evaluate() and the baselines over an in-memory shard set of real OSIE images (the ShardSet interface)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency.baselines import compute_baselines, observer_nss
from saliency.errors import ConfigError, SchemaError
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics import evaluate, gap_closed
from saliency.metrics import fixation as F


def test_evaluate_writes_per_image_and_summary(osie_shards, tmp_path):
    preds = {s: osie_shards.density(s) for s in osie_shards.stimuli}
    res = evaluate(preds, osie_shards, metrics=["auc_judd", "nss", "cc", "kl", "sim", "sauc", "ig"])
    assert list(res.per_image["stimulus"]) == osie_shards.stimuli
    assert res.summary["convention"] == "pysaliency"
    assert res.summary["cc"] == pytest.approx(1.0)
    assert res.summary["kl"] == pytest.approx(0.0, abs=1e-6)
    assert res.summary["nss"] > 2
    paths = res.save(tmp_path)
    assert json.loads(paths["summary"].read_text())["summary"]["n_images"] == len(osie_shards.stimuli)
    assert paths["csv"].exists() and paths["parquet"].exists()


def test_evaluate_mit_convention_and_missing_predictions(osie_shards):
    preds = {s: osie_shards.density(s) for s in osie_shards.stimuli}
    res = evaluate(preds, osie_shards, metrics=["auc_judd", "auc_borji", "nss"], convention="mit")
    assert res.summary["convention"] == "mit" and 0.5 < res.summary["auc_judd"] <= 1
    with pytest.raises(SchemaError, match="no prediction"):
        evaluate({}, osie_shards)


def test_closed_form_observer_nss_equals_full_maps(osie_shards):
    gt = osie_shards.load(osie_shards.stimuli[0])
    x, y = gt.fixations["x"].to_numpy(), gt.fixations["y"].to_numpy()
    obs = gt.fixations["observer"].to_numpy()
    from scipy.ndimage import gaussian_filter

    vals, _ = observer_nss(x, y, obs, gt.height, gt.width, 24.0)
    expected = []
    for o in np.unique(obs):
        mine = obs == o
        counts = np.zeros((gt.height, gt.width))
        np.add.at(counts, (y[~mine].astype(int), x[~mine].astype(int)), 1.0)
        m = gaussian_filter(counts, 24.0, mode="constant")
        expected.append(F.nss_per_fixation(m, x[mine], y[mine]))
    np.testing.assert_allclose(vals, np.concatenate(expected), atol=1e-9)


def test_baselines_are_ordered_chance_centre_gold(osie_shards):
    res = compute_baselines(osie_shards, metrics=["nss", "auc_judd"], stimuli=osie_shards.stimuli[:3])
    nss = {k: r.summary["nss"] for k, r in res.items()}
    assert nss["chance"] == 0.0
    assert 0 < nss["centre_gaussian"] < nss["one_human"] < nss["gold_standard"]
    assert res["chance"].summary["auc_judd"] == 0.5
    assert res["centre_gaussian"].summary["centre_gaussian_fit_stimuli"] == 3
    g = gap_closed(nss["one_human"], nss["centre_gaussian"], nss["gold_standard"])
    assert 0 < g < 1
    with pytest.raises(ConfigError):
        gap_closed(1.0, 2.0, 2.0)


# --- baselines built like the ground truth; finite gold-standard information gain -------------------------
def _with_options(shards, **options):
    from copy import copy

    s = copy(shards)
    s.meta = {**shards.meta, "options": {"sigma": shards.meta["sigma_px"], **options}}
    return s


def test_shard_blur_uses_the_mit_fft_cut_off_of_the_shard_metadata(osie_shards):
    from saliency.maps.fusion import fuse_fixations

    gt = osie_shards.load(osie_shards.stimuli[0])
    x, y = gt.fixations["x"].to_numpy(), gt.fixations["y"].to_numpy()
    meta = _with_options(osie_shards, mode="mit_fft", fc_cycles=8.0).meta
    blur = ShardBlur(meta)
    assert blur.fc(600, 800) == 8.0
    m = blur.blur(x.astype(int), y.astype(int), 600, 800)
    expected = fuse_fixations(x, y, 600, 800, 24.0, mode="mit_fft", fc_cycles=8.0)
    np.testing.assert_allclose(m / m.sum(), expected, atol=1e-9, rtol=1e-4)
    derived = fuse_fixations(x, y, 600, 800, 24.0, mode="mit_fft")   # fc derived from σ: a different map
    assert np.abs(m / m.sum() - derived).max() > 100 * np.abs(m / m.sum() - expected).max()


def test_baselines_follow_the_shards_fc_cycles(osie_shards):
    mit = _with_options(osie_shards, mode="mit_fft", fc_cycles=4.0)   # σ ≈ 48 px: clearly not the σ = 24 maps
    stimuli = osie_shards.stimuli[:2]
    res = compute_baselines(mit, metrics=["nss"], stimuli=stimuli, which=("gold_standard",), regularize=False)
    summary = res["gold_standard"].summary
    assert summary["blur_mode"] == "mit_fft" and summary["fc_cycles"] == 4.0
    blur = ShardBlur(mit.meta)
    expected = []
    for s in stimuli:
        gt = mit.load(s)
        vals, _ = observer_nss(gt.fixations["x"].to_numpy(), gt.fixations["y"].to_numpy(),
                               gt.fixations["observer"].to_numpy(), 600, 800, 24.0, blur=blur)
        expected.append(vals.mean())
    assert summary["nss"] == pytest.approx(np.mean(expected), abs=1e-9)
    constant = compute_baselines(osie_shards, metrics=["nss"], stimuli=stimuli, which=("gold_standard",),
                                 regularize=False)["gold_standard"].summary["nss"]
    assert abs(constant - summary["nss"]) > 0.1


def test_gold_standard_information_gain_is_finite_with_the_fitted_mixture(osie_shards):
    stimuli = osie_shards.stimuli[:3]
    bare = compute_baselines(osie_shards, metrics=["ig"], stimuli=stimuli, which=("gold_standard",),
                             regularize=False)
    assert bare["gold_standard"].summary["ig"] == -np.inf     # zeros where the left-out observer looked
    res = compute_baselines(osie_shards, metrics=["ig", "nss"], stimuli=stimuli,
                            which=("centre_gaussian", "gold_standard", "one_human"))
    ig = {k: r.summary["ig"] for k, r in res.items()}
    assert ig["centre_gaussian"] == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(ig["gold_standard"]) and ig["gold_standard"] > ig["one_human"] > 0
    w = res["gold_standard"].summary["mixture_weights"]
    assert sum(w.values()) == pytest.approx(1.0) and min(w.values()) >= 0 and w["observer_map"] > 0.5


def test_mixture_weights_recover_the_generating_weights():
    from saliency.baselines import fit_mixture_weights

    rng = np.random.default_rng(0)
    n = 20000
    comps = np.stack([rng.gamma(2.0, 1.0, n), rng.gamma(5.0, 1.0, n), np.full(n, 0.5)], axis=1)
    true = np.array([0.6, 0.3, 0.1])
    # sample which component generated each point, then evaluate: densities proportional to the component
    z = rng.choice(3, size=n, p=true)
    boost = np.ones((n, 3))
    boost[np.arange(n), z] = 4.0
    w = fit_mixture_weights(comps * boost)
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    assert w[2] < w[0]


@pytest.mark.parametrize("k", [3, 2])
def test_em_step_sums_are_numpys_bits(k):
    from saliency.baselines.jit import em_responsibility_sums

    rng = np.random.default_rng(k)
    c = rng.random((5000, k)) ** 4
    w = rng.random(k)
    w /= w.sum()
    mix = c @ w
    assert em_responsibility_sums(c, w, mix).tobytes() == (c * (w / mix[:, None])).sum(axis=0).tobytes()

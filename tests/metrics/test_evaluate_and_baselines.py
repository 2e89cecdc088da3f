"""evaluate() and the baselines over an in-memory shard set of real OSIE images (contract 2 interface)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saliency.baselines import compute_baselines, observer_nss
from saliency.baselines.blur import blur_points
from saliency.errors import ConfigError, SchemaError
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
    vals, _ = observer_nss(x, y, obs, gt.height, gt.width, 24.0)
    expected = []
    for o in np.unique(obs):
        mine = obs == o
        m = blur_points(x[~mine].astype(int), y[~mine].astype(int), gt.height, gt.width, 24.0)
        expected.append(F.nss_per_fixation(m, x[mine], y[mine]))
    np.testing.assert_allclose(vals, np.concatenate(expected), atol=1e-9)


def test_blur_points_equals_scipy_gaussian_filter():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    xi, yi = rng.integers(0, 50, 9), rng.integers(0, 40, 9)
    counts = np.zeros((40, 50))
    np.add.at(counts, (yi, xi), 1.0)
    np.testing.assert_allclose(blur_points(xi, yi, 40, 50, 3.0), gaussian_filter(counts, 3.0, mode="constant"),
                               atol=1e-15)


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

"""SOD metrics equal PySODMetrics (installed as a dev dependency) on real SOD masks to 1e-10."""

from __future__ import annotations

import warnings

import numpy as np
import py_sod_metrics  # a dev dependency: the comparison never skips
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from saliency.metrics import sod


def _masks(datasets_dir, n=12):
    paths = sorted((datasets_dir / "sod" / "masks").glob("*.png"))[:: max(1, 300 // n)][:n]
    return [np.asarray(Image.open(p).convert("L")) for p in paths]


def _predictions(gt: np.ndarray, k: int) -> np.ndarray:
    """Simple real-looking predictions: blurred masks, a centre prior, a shifted mask, a constant map."""
    g = gt.astype(np.float64)
    if k % 4 == 0:
        p = gaussian_filter(g, 6)
    elif k % 4 == 1:
        h, w = g.shape
        yy, xx = np.mgrid[0:h, 0:w]
        p = np.exp(-(((yy - h / 2) / (h / 3)) ** 2 + ((xx - w / 2) / (w / 3)) ** 2))
    elif k % 4 == 2:
        p = gaussian_filter(np.roll(g, 15, axis=1), 3) * 0.7 + 20
    else:
        p = np.full(g.shape, 77.0)
    p = 255 * (p - p.min()) / max(p.max() - p.min(), 1e-12) if k % 4 != 3 else p
    return p.astype(np.uint8)


def test_sod_metrics_equal_pysodmetrics_on_real_masks(datasets_dir):
    masks = _masks(datasets_dir)
    masks.append(np.zeros_like(masks[0]))  # an empty mask exercises the degenerate branches
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = [py_sod_metrics.MAE(), py_sod_metrics.Fmeasure(), py_sod_metrics.Smeasure(),
               py_sod_metrics.Emeasure(), py_sod_metrics.WeightedFmeasure()]
    pairs = []
    for k, gt in enumerate(masks):
        pred = _predictions(gt, k)
        pairs.append((pred, gt))
        for m in ref:
            m.step(pred=pred, gt=gt)
    ours = sod.evaluate_sod(pairs)
    fm = ref[1].get_results()["fm"]
    em = ref[3].get_results()["em"]
    expected = {
        "mae": ref[0].get_results()["mae"],
        "adp_fm": fm["adp"], "mean_fm": fm["curve"].mean(), "max_fm": fm["curve"].max(),
        "sm": ref[2].get_results()["sm"],
        "adp_em": em["adp"], "mean_em": em["curve"].mean(), "max_em": em["curve"].max(),
        "wfm": ref[4].get_results()["wfm"],
    }
    for key, value in expected.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-10), key
    assert ours["n_images"] == len(masks)


def test_sod_rejects_shape_mismatch():
    from saliency.errors import SchemaError

    with pytest.raises(SchemaError):
        sod.prepare(np.zeros((4, 5), np.uint8), np.zeros((5, 4), np.uint8))


def test_perfect_prediction_scores_best():
    gt = np.zeros((40, 50), np.uint8)
    gt[10:25, 12:30] = 255
    out = sod.evaluate_sod([(gt.copy(), gt)])
    assert out["mae"] == 0.0
    assert out["sm"] == pytest.approx(1.0, abs=1e-9)
    assert out["max_fm"] == pytest.approx(1.0)
    assert out["wfm"] == pytest.approx(1.0, abs=1e-9)

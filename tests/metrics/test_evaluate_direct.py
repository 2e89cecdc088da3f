"""The direct path of :func:`evaluate` on a ShardSet: images read in the worker threads, the quantised ground
truth scored as stored (:class:`QuantizedDensity`), SIM/KL runs over zero ground truth skipped — the same
values as the general path (ground truth read on the calling thread as the float32 density)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency.maps import MapOptions
from saliency.metrics.conventions import PYSALIENCY_KL_EPS
from saliency.metrics.evaluation import evaluate
from saliency.metrics.fixation import to_density
from saliency.metrics.fused import QuantizedDensity, score_pysaliency
from saliency.metrics.jit import sum_min
from saliency.shards import build_shards, open_shards

METRICS = ["auc_judd", "sauc", "nss", "ig", "cc", "kl", "sim"]


@pytest.fixture(scope="module")
def u16_shards(osie_small, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("direct") / "shards"
    build_shards(osie_small, root, MapOptions(sigma=24.0), shard_size=3)   # uint16 Parquet, three shards
    return root


class _Proxy:
    """A ShardSet seen through its documented members only: evaluate takes the general path."""

    def __init__(self, ss) -> None:
        self._ss = ss

    def __getattr__(self, name):
        return getattr(self._ss, name)


def _predictions(ss) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for s in ss.stimuli:
        d = ss.density(s).astype(np.float64)
        out[s] = (d + 0.2 * d.max() * rng.random(d.shape)).astype(np.float32)   # float32 files stay float32
    return out


def test_quantized_density_is_the_shard_density(u16_shards):
    ss = open_shards(u16_shards)
    for s in ss.stimuli[:3]:
        q, factor = ss.density_parts(s)
        assert q.dtype == np.uint16 and factor.dtype == np.float32
        qd = QuantizedDensity(q, factor)
        d = ss.density(s)
        assert np.array_equal(qd.array(), d) and qd.shape == d.shape
        total, _ = sum_min(d.ravel())
        assert qd.stats()[0] == pytest.approx(total, rel=1e-15, abs=0)


def test_uint16_ground_truth_scores_like_the_float32_density(u16_shards):
    ss = open_shards(u16_shards)
    preds = _predictions(ss)
    for s in ss.stimuli[:3]:
        q, factor = ss.density_parts(s)
        rows = ss.fixations_of(s)
        h, w = q.shape
        idx = (rows["y"].to_numpy().astype(np.int64) * w + rows["x"].to_numpy().astype(np.int64))
        neg = np.sort(np.random.default_rng(1).integers(0, h * w, 500))
        kw = dict(neg_idx=neg, baseline_log=np.full(idx.size, -np.log(h * w)))
        names = {"auc_judd", "sauc", "nss", "ig", "cc", "kl", "sim"}
        a = score_pysaliency(preds[s], idx, names, density=ss.density(s), **kw)
        b = score_pysaliency(preds[s], idx, names, density=QuantizedDensity(q, factor), **kw)
        for k in names:
            assert b[k][0] == pytest.approx(a[k][0], rel=1e-13, abs=1e-15), k
        assert a["auc_judd"][0] == b["auc_judd"][0] and a["sauc"][0] == b["sauc"][0]


@pytest.mark.parametrize("shift", [0.0, -1e-6])
def test_sim_and_kl_skip_zero_runs_exactly(shift):
    """Half the ground truth is exactly 0 (runs the pass skips); a negative shift (ground truth with a
    negative minimum) must not skip anything. Against numpy's formulas (pysaliency's)."""
    rng = np.random.default_rng(2)
    g = rng.random((60, 90))
    g[:, :45] = 0.0
    g[5, 3] = shift                      # 0 → no-op; < 0 → to_density shifts, so zeros are not zero densities
    p = rng.random((60, 90)) + 0.01
    idx = np.array([7, 500, 3000])
    r = score_pysaliency(p, idx, {"kl", "sim"}, density=g)
    pd_, gd = to_density(p), to_density(g)
    eps = PYSALIENCY_KL_EPS
    assert r["kl"][0] == pytest.approx(float(np.sum(gd * np.log(eps + gd / (pd_ + eps)))), rel=1e-12)
    assert r["sim"][0] == pytest.approx(float(np.minimum(pd_, gd).sum()), rel=1e-12)


def test_direct_threaded_reading_equals_serial_and_the_general_path(u16_shards):
    ss = open_shards(u16_shards)
    preds = _predictions(ss)
    one = evaluate(preds, ss, metrics=METRICS, workers=1).per_image
    two = evaluate(preds, open_shards(u16_shards), metrics=METRICS, workers=2).per_image
    general = evaluate(preds, _Proxy(open_shards(u16_shards)), metrics=METRICS, workers=2).per_image
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert list(general["stimulus"]) == list(one["stimulus"])
    pd.testing.assert_frame_equal(one[["stimulus", "n_fixations", "auc_judd", "sauc"]],
                                  general[["stimulus", "n_fixations", "auc_judd", "sauc"]], check_exact=True)
    for k in ("nss", "ig", "cc", "kl", "sim"):
        np.testing.assert_allclose(one[k], general[k], rtol=1e-13, atol=1e-15)


def test_negative_split_and_exclusion_equal_the_copied_negatives(u16_shards):
    """sAUC with the image's own fixations subtracted from the whole pool equals sAUC on the pool without
    them (exact), also where other images' fixations share a pixel with the image's own."""
    from saliency.metrics.evaluation import FixationPool, sizes_from_manifest, without_each

    ss = open_shards(u16_shards)
    pool = FixationPool.from_frame(ss.fixations.data, sizes_from_manifest(ss.manifest))
    preds = _predictions(ss)
    for s in ss.stimuli[:3]:
        shape = ss.density(s).shape
        everything, own = pool.negative_split(s, shape)
        copied = pool.negative_indices(s, shape)
        assert np.array_equal(without_each(everything, own), copied)
        rows = ss.fixations_of(s)
        idx = rows["y"].to_numpy().astype(np.int64) * shape[1] + rows["x"].to_numpy().astype(np.int64)
        a = score_pysaliency(preds[s], idx, {"sauc"}, neg_idx=copied)["sauc"]
        b = score_pysaliency(preds[s], idx, {"sauc"}, neg_idx=everything, neg_exclude=own)["sauc"]
        assert a[0] == b[0] and np.array_equal(a[1], b[1])
    dup = np.array([1, 3, 3, 3, 7, 9])
    assert np.array_equal(without_each(dup, np.array([3, 9, 3])), np.array([1, 3, 7]))


def test_threaded_reading_survives_evicted_shard_handles(osie_small, tmp_path, monkeypatch):
    """One map per shard and one open shard at a time: handles are evicted while the other worker may still
    be reading from them; the scores are those of a serial run."""
    import saliency.shards.reader as reader

    root = tmp_path / "shards"
    build_shards(osie_small, root, MapOptions(sigma=24.0), shard_size=1)
    preds = _predictions(open_shards(root))
    serial = evaluate(preds, open_shards(root), metrics=METRICS, workers=1).per_image
    monkeypatch.setattr(reader, "OPEN_SHARDS", 1)
    threaded = evaluate(preds, open_shards(root), metrics=METRICS, workers=2).per_image
    pd.testing.assert_frame_equal(serial, threaded, check_exact=True)


def test_negatives_in_any_order_score_alike_and_out_of_range_ones_are_refused() -> None:
    from saliency.errors import SchemaError

    rng = np.random.default_rng(4)
    m = rng.random((30, 40)).astype(np.float32)
    idx = rng.integers(0, m.size, 25)
    neg = np.sort(rng.integers(0, m.size, 400))
    kw = dict(baseline_log=np.full(idx.size, -np.log(m.size)))
    a = score_pysaliency(m, idx, {"sauc", "auc_judd"}, neg_idx=neg, **kw)
    b = score_pysaliency(m, idx, {"sauc", "auc_judd"}, neg_idx=rng.permutation(neg), **kw)
    assert a["sauc"][0] == b["sauc"][0] and np.array_equal(a["sauc"][1], b["sauc"][1])
    for bad in (np.append(neg, m.size), np.insert(neg, 7, -1)):
        with pytest.raises(SchemaError, match="outside the map"):
            score_pysaliency(m, idx, {"sauc"}, neg_idx=bad, **kw)


def test_the_evaluate_program_ends_early_with_every_output_written(u16_shards, tmp_path) -> None:
    """`python -m saliency evaluate` ends without module teardown (saliency.cli.common.end_process) once its
    files are written: the JSON on stdout and the files are complete, the exit code 0."""
    import json
    import os
    import subprocess
    import sys

    ss = open_shards(u16_shards)
    folder = tmp_path / "preds"
    folder.mkdir()
    for s, m in _predictions(ss).items():
        np.save(folder / f"{Path(s).stem}.npy", m)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    res = subprocess.run([sys.executable, "-m", "saliency", "evaluate", str(folder), "--shards", str(u16_shards),
                          "--out", str(out), "--json", "-m", "nss", "-m", "auc_judd"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["n_images"] == len(ss.stimuli) and summary["metrics"] == ["nss", "auc_judd"]
    table = pd.read_csv(out / "per_image.csv")
    assert len(table) == len(ss.stimuli)
    assert table["nss"].mean() == pytest.approx(summary["nss"], rel=1e-9)

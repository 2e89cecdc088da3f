"""The observer baselines from shared maps (T − M_k, formed in the metric pass) equal the direct blur of every
observer set, the exact zeros included; the fallback for a lost contribution scores the directly blurred map."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from saliency.baselines import observers as O
from saliency.maps.shard_blur import ShardBlur
from saliency.metrics.centre_bias import fit_centre_gaussian
from saliency.metrics.conventions import get_convention
from saliency.metrics.evaluation import FixationPool, sizes_from_manifest
from saliency.metrics.fixation import to_density
from saliency.metrics.fused import MapSource, Workspace, score_source
from saliency.metrics.jit import LEAVE_OUT
from saliency.metrics.streaming import DEFAULT_METRICS, build_metrics

NAMES = [m for m in DEFAULT_METRICS if m != "emd"]


def _inputs(shards, stimulus: str, regularize: bool):
    gt = shards.load(stimulus)
    shape = (gt.height, gt.width)
    sizes = sizes_from_manifest(shards.manifest)
    centre = fit_centre_gaussian(shards.fixations.data, sizes, shards.stimuli).density(*shape)
    neg = FixationPool.from_frame(shards.fixations.data, sizes).negative_indices(stimulus, shape)
    base_log = np.log(to_density(centre)).ravel()
    weights = np.array([0.8, 0.15, 0.05])
    mixtures = {b: (weights, weights[1] * centre) if regularize else None for b in O.OBSERVER_BASELINES}
    return gt, neg, base_log, mixtures


def _both(shards, stimulus: str, regularize: bool):
    conv = get_convention("pysaliency")
    blur = ShardBlur(shards.meta)
    gt, neg, base_log, mixtures = _inputs(shards, stimulus, regularize)
    density = np.asarray(gt.density, dtype=np.float64)
    ws = Workspace()
    factories = {b: (lambda: build_metrics(NAMES, conv)) for b in O.OBSERVER_BASELINES}
    assert O.shared_path_applies(factories["gold_standard"](), *blur.matrices(gt.height, gt.width))
    shared = O.shared_observer_baselines(gt, O.OBSERVER_BASELINES, factories, blur, density,
                                         (float(density.sum()), float(density.min())), neg, base_log, mixtures, ws)
    direct = {b: O.observer_baseline(gt, b, factories[b], blur, density, neg, base_log, mixtures[b], ws)
              for b in O.OBSERVER_BASELINES}
    return shared, direct


def _assert_close(shared, direct, rtol: float) -> None:
    for b in O.OBSERVER_BASELINES:
        fix_s, map_s = shared[b]
        fix_d, map_d = direct[b]
        for name in NAMES:
            np.testing.assert_allclose(map_s[name], map_d[name], rtol=rtol, atol=1e-300, err_msg=f"{b} {name}")
            if fix_d[name]:
                np.testing.assert_allclose(np.concatenate(fix_s[name]), np.concatenate(fix_d[name]), rtol=rtol,
                                           atol=1e-13, err_msg=f"{b} {name}")


@pytest.mark.parametrize("regularize", [True, False])
def test_shared_observer_maps_equal_the_direct_blur(osie_shards, regularize):
    shared, direct = _both(osie_shards, osie_shards.stimuli[1], regularize)
    _assert_close(shared, direct, 1e-10)
    if not regularize:      # exact zeros kept: the left-out observer's lone fixations still score log 0
        ig = np.concatenate(shared[O.OBSERVER_BASELINES[0]][0]["ig"])
        assert np.isneginf(ig).any() and np.array_equal(np.isneginf(ig),
                                                        np.isneginf(np.concatenate(direct["gold_standard"][0]["ig"])))


def test_lost_contribution_falls_back_to_the_direct_blur(osie_shards, monkeypatch):
    from saliency.baselines import sweep

    real = sweep.observer_sweep
    lost = list(inspect.signature(real.py_func).parameters).index("lost")

    def lossy(*args):      # every shared map reports a contribution lost to rounding
        out = real(*args)
        args[lost][:] = 1
        return out

    monkeypatch.setattr(sweep, "observer_sweep", lossy)
    shared, direct = _both(osie_shards, osie_shards.stimuli[2], True)
    _assert_close(shared, direct, 1e-10)


def test_map_pass_reports_a_leave_out_zero_where_another_observer_counts():
    t = np.array([1.0, 2.0, 3.0, 0.0])
    mk = np.array([1.0, 0.5, 3.0, 0.0])
    count = np.array([1, 2, 1, 0], dtype=np.int32)
    src = MapSource(kind=LEAVE_OUT, t=t, mk=mk, count=count)
    _, exact = score_source(src, np.array([1]), {"nss"}, total=1.5, mn=0.0)
    assert exact
    count[2] = 2                 # T − M = 0 at pixel 2 although a second observer is positive there
    _, exact = score_source(src, np.array([1]), {"nss"}, total=1.5, mn=0.0)
    assert not exact


def test_map_sources_must_cover_the_map():
    from saliency.errors import SchemaError

    t = np.ones(4)
    with pytest.raises(SchemaError, match="do not have the map's 4 pixels"):
        score_source(MapSource(kind=LEAVE_OUT, t=t, mk=t[:2], count=np.zeros(4, np.int32)), np.array([1]),
                     {"nss"}, total=2.0, mn=0.0)
    with pytest.raises(SchemaError, match="outside the map"):
        score_source(MapSource(a=t), np.array([4]), {"nss"}, total=4.0, mn=1.0)


def test_images_whose_observer_maps_do_not_fit_take_the_direct_path(osie_shards, monkeypatch):
    from saliency.baselines import compute_baselines

    stimuli = osie_shards.stimuli[:2]
    shared = compute_baselines(osie_shards, metrics=["nss", "auc_judd"], stimuli=stimuli,
                               which=("gold_standard", "one_human"))
    assert O.shared_path_fits(osie_shards.load(stimuli[0]))
    monkeypatch.setattr(O, "MAX_SHARED_BYTES", 1)
    assert not O.shared_path_fits(osie_shards.load(stimuli[0]))
    direct = compute_baselines(osie_shards, metrics=["nss", "auc_judd"], stimuli=stimuli,
                               which=("gold_standard", "one_human"))
    for b in ("gold_standard", "one_human"):
        for m in ("nss", "auc_judd"):
            assert direct[b].summary[m] == pytest.approx(shared[b].summary[m], rel=1e-10)


@pytest.mark.parametrize("few", [0, 200])
def test_shared_maps_rank_by_buckets_or_by_comparison_alike(osie_shards, monkeypatch, few):
    """Every observer set ranked by buckets (few = 0) or by comparison with each fixated value (few = 200)."""
    from saliency.baselines import sweep
    from saliency.metrics import jit

    monkeypatch.setattr(jit, "FEW", few)
    monkeypatch.setattr(sweep, "FEW", max(few, 1))
    shared, direct = _both(osie_shards, osie_shards.stimuli[1], True)
    _assert_close(shared, direct, 1e-10)
    for b in O.OBSERVER_BASELINES:
        for name in ("auc_judd", "sauc"):
            assert np.array_equal(np.concatenate(shared[b][0][name]), np.concatenate(direct[b][0][name]))


def test_observer_map_rows_are_the_blur_product(osie_shards):
    """The rows the sweep makes (FMA chains over the fixations) are ShardBlur.blur's BLAS product (bit for bit
    with OpenBLAS here; to rounding wherever a BLAS sums in another order)."""
    from saliency.baselines.jit import blur_row
    from saliency.baselines.sweep import row_extents
    from saliency.maps.fusion import observer_splits
    from saliency.metrics.fixation import fixation_indices

    blur = ShardBlur(osie_shards.meta)
    gt = osie_shards.load(osie_shards.stimuli[0])
    fx = gt.fixations
    h, w = gt.height, gt.width
    idx = fixation_indices(fx["x"].to_numpy(np.float64), fx["y"].to_numpy(np.float64), (h, w))
    xi, yi = idx % w, idx // w
    sw = blur.source_weights(fx)
    ry, rx = blur.matrices(h, w)
    (lo, hi), (clo, chi) = row_extents(ry), row_extents(rx)
    for _, _, mine in list(observer_splits(fx["observer"].astype(str).to_numpy(), leave_out=True))[:4]:
        ref = blur.blur(xi[mine], yi[mine], h, w, sw[mine])
        a, b = ry[yi[mine]] * sw[mine][:, None], np.ascontiguousarray(rx[xi[mine]])
        rows = np.empty((h, w))
        for r in range(h):
            blur_row(a, b, lo[yi[mine]], hi[yi[mine]], clo[xi[mine]], chi[xi[mine]], 0, int(mine.sum()), r, rows[r])
        np.testing.assert_allclose(rows, ref, rtol=1e-15, atol=0)
        assert np.array_equal(rows == 0, ref == 0)

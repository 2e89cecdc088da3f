"""Fixation metrics: published pysaliency golden values, invariances (hypothesis), pysaliency agreement on
real OSIE images (golden JSON computed once with pysaliency), and the mit convention against a literal
loop transcription of the MATLAB code."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from saliency.errors import SchemaError
from saliency.metrics import fixation as F
from saliency.metrics import streaming
from saliency.metrics.resize import imresize

GOLDEN = Path(__file__).parent / "golden"

# --- published pysaliency test values (tests/test_saliency_map_models.py, test_auc / test_nss) -----------
FIX = [(0, 10, 0), (1, 11, 0), (2, 12, 0), (2, 12, 0), (2, 12, 0), (1, 21, 1), (5, 25, 1), (3, 33, 1)]
AUC_EXPECTED = [0.099375, 0.158125, 0.241875, 0.241875, 0.241875, 0.291875, 0.509375, 0.138125]
NSS_EXPECTED = [-0.821596006113, -0.789526121554, -0.740616174533, -0.740616174533, -0.740616174533,
                -0.707322347863, -0.433094498355, -0.800070419267]


def _gauss_map() -> np.ndarray:
    y, x = np.mgrid[0:40, 0:40].astype(float)
    return np.exp(-0.5 * ((x - 20) ** 2 + (y - 20) ** 2) / np.sqrt(40**2 + 40**2))


def _per_stimulus(fn):
    m = _gauss_map()
    vals = []
    for s in (0, 1):
        xs = [f[0] for f in FIX if f[2] == s]
        ys = [f[1] for f in FIX if f[2] == s]
        vals.append(fn(m, xs, ys))
    return vals


def test_auc_matches_published_pysaliency_values():
    per = _per_stimulus(F.auc_per_fixation)
    flat = np.concatenate(per)
    np.testing.assert_allclose(flat, AUC_EXPECTED, atol=1e-12)
    assert flat.mean() == pytest.approx(0.2403125, abs=1e-12)
    assert np.mean([v.mean() for v in per]) == pytest.approx(0.254875, abs=1e-12)


def test_nss_matches_published_pysaliency_values():
    per = _per_stimulus(F.nss_per_fixation)
    flat = np.concatenate(per)
    np.testing.assert_allclose(flat, NSS_EXPECTED, atol=1e-11)
    assert flat.mean() == pytest.approx(-0.721682239593952, abs=1e-12)
    assert np.mean([v.mean() for v in per]) == pytest.approx(-0.706711609374163, abs=1e-12)


def test_streaming_averages_per_image_then_over_images_and_counts_skips():
    m = _gauss_map()
    auc, nss = streaming.AUCJudd(), streaming.NSS()
    for s in (0, 1):
        xs = np.array([f[0] for f in FIX if f[2] == s], float)
        ys = np.array([f[1] for f in FIX if f[2] == s], float)
        auc.update(m, x_px=xs, y_px=ys)
        nss.update(m, x_px=xs, y_px=ys)
    assert np.isnan(auc.update(m, x_px=np.empty(0), y_px=np.empty(0)))
    a, n = auc.compute(), nss.compute()
    assert a["mean"] == pytest.approx(0.254875) and a["fixation_mean"] == pytest.approx(0.2403125)
    assert n["mean"] == pytest.approx(-0.706711609374163) and n["fixation_mean"] == pytest.approx(-0.721682239593952)
    assert a["n_skipped"] == 1 and a["n_images"] == 2
    auc.reset()
    assert auc.compute()["n_images"] == 0


@pytest.mark.parametrize("convention", ["pysaliency", "mit"])
def test_constant_prediction_scores_chance(convention):
    m = np.full((30, 40), 3.0)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 40, 25), rng.uniform(0, 30, 25)
    g = rng.random((30, 40))
    assert F.nss(m, x, y, convention=convention) == 0.0
    assert F.cc(m, g, convention=convention) == 0.0
    if convention == "pysaliency":
        assert F.auc_judd(m, x, y) == 0.5
        assert F.sauc(m, x, y, rng.uniform(0, 40, 50), rng.uniform(0, 30, 50)) == 0.5


maps = arrays(np.float64, (12, 15), elements=st.integers(-40, 40).map(lambda v: v / 8))  # distinct after exp
fix = st.lists(st.tuples(st.floats(0, 14.99), st.floats(0, 11.99)), min_size=1, max_size=20)


@settings(max_examples=40, deadline=None)
@given(m=maps, f=fix, a=st.floats(0.1, 10), b=st.floats(-100, 100))
def test_auc_invariant_under_monotone_transforms_and_nss_cc_under_positive_affine(m, f, a, b):
    x = np.array([p[0] for p in f])
    y = np.array([p[1] for p in f])
    np.testing.assert_allclose(F.auc_per_fixation(np.exp(m), x, y), F.auc_per_fixation(m, x, y))
    np.testing.assert_allclose(F.auc_per_fixation(m ** 3 * 2 + 1, x, y), F.auc_per_fixation(m, x, y))
    if m.std() > 1e-3:
        np.testing.assert_allclose(F.nss_per_fixation(a * m + b, x, y), F.nss_per_fixation(m, x, y),
                                   rtol=1e-6, atol=1e-6)
        g = np.abs(m[::-1]) + 0.1
        assert F.cc(a * m + b, g) == pytest.approx(F.cc(m, g), abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(pos=arrays(np.float64, st.integers(1, 30), elements=st.integers(0, 5).map(float)),
       neg=arrays(np.float64, st.integers(1, 60), elements=st.integers(0, 5).map(float)))
def test_rank_auc_equals_the_definition_with_ties_half(pos, neg):
    expected = [((neg < p).sum() + 0.5 * (neg == p).sum()) / neg.size for p in pos]
    np.testing.assert_allclose(F.rank_auc(pos, neg), expected)


@settings(max_examples=30, deadline=None)
@given(m=arrays(np.float64, (10, 11), elements=st.floats(0, 3, width=32)),
       g=arrays(np.float64, (10, 11), elements=st.floats(0.0625, 3, width=32)))
def test_kl_nonnegative_sim_bounded_and_identity_is_perfect(m, g):
    assert F.kl_divergence(g, g) == pytest.approx(0.0, abs=1e-9)
    assert F.sim(g, g) == pytest.approx(1.0)
    assert 0.0 <= F.sim(m, g) <= 1.0 + 1e-12
    assert F.kl_divergence(m, g) >= -1e-9


def test_size_mismatch_is_an_error_unless_resize_requested():
    m = _gauss_map()
    with pytest.raises(SchemaError, match="does not resize"):
        F.nss(m, [1.0], [2.0], shape=(80, 80))
    assert np.isfinite(F.nss(m, [1.0], [2.0], shape=(80, 80), resize=True))
    assert np.isfinite(F.nss(m, [1.0], [2.0], shape=(80, 80), convention="mit"))


def test_fixations_outside_the_image_are_rejected():
    with pytest.raises(SchemaError, match="outside"):
        F.auc_judd(_gauss_map(), [40.0], [3.0])


def test_imresize_keeps_constants_and_linear_ramps():
    c = np.full((64, 96), 2.5)
    np.testing.assert_allclose(imresize(c, scale=1 / 32), np.full((2, 3), 2.5))
    ramp = np.tile(np.arange(100.0), (20, 1))
    out = imresize(ramp, (20, 50))
    np.testing.assert_allclose(out[:, 5:-5], np.tile(np.arange(50.0) * 2 + 0.5, (20, 1))[:, 5:-5], atol=1e-9)


def test_emd_is_zero_for_identical_maps_and_moves_mass_by_distance():
    a = np.zeros((3, 4))
    a[0, 0] = 1
    b = np.zeros((3, 4))
    b[0, 3] = 1
    assert F.earth_movers_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert F.earth_movers_distance(a, b) == pytest.approx(3.0)
    g = _gauss_map()
    assert F.emd(g, g, downsample=4) == pytest.approx(0.0, abs=1e-9)


# --- agreement with pysaliency on real OSIE images -----------------------------------------------------
def _osie_maps(tmp_path_factory, datasets_dir):
    spec = importlib.util.spec_from_file_location(
        "osie_maps", Path(__file__).resolve().parents[2] / "benchmarks" / "osie_maps.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = tmp_path_factory.mktemp("osie_maps")
    names = mod.build(datasets_dir / "osie", d, n_images=4)
    return names, d


def test_every_metric_agrees_with_pysaliency_on_osie(tmp_path_factory, datasets_dir):
    golden = json.loads((GOLDEN / "osie_pysaliency.json").read_text())
    names, d = _osie_maps(tmp_path_factory, datasets_dir)
    assert names == golden["stimuli"]
    preds = np.load(d / "preds.npy")
    gt = np.load(d / "gt.npy")
    base = np.load(d / "baseline.npy")
    fx = np.load(d / "fixations.npz")
    x, y, n = fx["x"], fx["y"], fx["n"]
    per_fix = {k: np.empty(x.size) for k in ("auc", "sauc", "nss", "ig")}
    for k in range(len(names)):
        s = n == k
        p = preds[k]
        per_fix["auc"][s] = F.auc_per_fixation(p, x[s], y[s])
        per_fix["sauc"][s] = F.sauc_per_fixation(p, x[s], y[s], x[~s].astype(int), y[~s].astype(int))
        per_fix["nss"][s] = F.nss_per_fixation(p, x[s], y[s])
        per_fix["ig"][s] = F.information_gain_per_fixation(p, x[s], y[s], base)
        assert F.cc(p, gt[k]) == pytest.approx(golden["per_image"]["cc"][k], abs=1e-9)
        assert F.kl_divergence(p, gt[k]) == pytest.approx(golden["per_image"]["kl"][k], abs=1e-9)
        assert F.sim(p, gt[k]) == pytest.approx(golden["per_image"]["sim"][k], abs=1e-9)
    for key, v in per_fix.items():
        np.testing.assert_allclose(v[:25], golden["first_per_fixation"][key], atol=1e-9)
        np.testing.assert_allclose([v[n == k].mean() for k in range(len(names))], golden["per_image"][key],
                                   atol=1e-9)
        assert v.mean() == pytest.approx(golden["fixation_mean"][key], abs=1e-9)


# --- mit convention against a literal transcription of the MATLAB loops -----------------------------------
def _matlab_auc_judd(sal, fixmap, jitter_noise):
    """AUC_Judd.m line by line (jitter supplied by the caller so both use the same draws)."""
    sal = sal + jitter_noise
    sal = (sal - sal.min()) / (sal.max() - sal.min())
    S = sal.ravel()
    Fm = fixmap.ravel()
    Sth = S[Fm > 0]
    Nf, Np = len(Sth), len(S)
    allthreshes = np.sort(Sth)[::-1]
    tp = np.zeros(Nf + 2)
    fp = np.zeros(Nf + 2)
    tp[-1] = fp[-1] = 1
    for i in range(1, Nf + 1):
        aboveth = (S >= allthreshes[i - 1]).sum()
        tp[i] = i / Nf
        fp[i] = (aboveth - i) / (Np - Nf)
    return np.trapezoid(tp, fp)


def _matlab_borji(sal, fixmap, r, step=0.1):
    """AUC_Borji.m with the random indices r (Nfix, Nsplits) supplied."""
    sal = (sal - sal.min()) / (sal.max() - sal.min())
    S = sal.ravel()
    Sth = S[fixmap.ravel() > 0]
    Nf = len(Sth)
    aucs = []
    for s in range(r.shape[1]):
        cur = S[r[:, s]]
        top = max(Sth.max(), cur.max())
        th = F.matlab_colon(0.0, step, top)[::-1]          # fliplr(0:stepSize:max([Sth;curfix]))
        tp = np.zeros(len(th) + 2)
        fp = np.zeros(len(th) + 2)
        tp[-1] = fp[-1] = 1
        for i, t in enumerate(th):
            tp[i + 1] = (Sth >= t).sum() / Nf
            fp[i + 1] = (cur >= t).sum() / Nf
        aucs.append(np.trapezoid(tp, fp))
    return float(np.mean(aucs))


def _matlab_nss(sal, fixmap):
    m = (sal - sal.mean()) / sal.std(ddof=1)
    return m[fixmap.astype(bool)].mean()


def _matlab_sim(a, b):
    def norm(m):
        m = (m - m.min()) / (m.max() - m.min())
        return m / m.sum()
    return np.minimum(norm(a), norm(b)).sum()


def _matlab_kl(sal, fixmap):
    eps = np.finfo(float).eps
    a, b = sal / sal.sum(), fixmap / fixmap.sum()
    return (b * np.log(eps + b / (a + eps))).sum()


def test_mit_convention_equals_matlab_transcription_on_osie(osie_shards):
    conv_seed = 0
    for s in osie_shards.stimuli[:3]:
        gt = osie_shards.load(s)
        sal = np.sqrt(gt.density.astype(np.float64)) + 0.1 * np.linspace(0, 1, gt.width)[None, :]
        x, y = gt.fixations["x"].to_numpy(), gt.fixations["y"].to_numpy()
        fixmap = np.zeros(sal.shape)
        fixmap[y.astype(int), x.astype(int)] = 1
        jitter = np.random.default_rng(conv_seed).random(sal.shape) * 1e-7
        assert F.auc_judd(sal, x, y, convention="mit") == pytest.approx(_matlab_auc_judd(sal, fixmap, jitter),
                                                                        abs=1e-12)
        k = int(fixmap.sum())
        r = np.random.default_rng(conv_seed).integers(0, sal.size, size=(k, 100))
        sal = np.round(sal / sal.max() * 10) / 10           # values on the threshold grid: 0.7 must count
        assert F.auc_borji(sal, x, y, convention="mit") == pytest.approx(_matlab_borji(sal, fixmap, r), abs=1e-12)
        assert F.nss(sal, x, y, convention="mit") == pytest.approx(_matlab_nss(sal, fixmap), abs=1e-12)
        d = gt.density.astype(np.float64)
        assert F.sim(sal, d, convention="mit") == pytest.approx(_matlab_sim(sal, d), abs=1e-12)
        assert F.kl_divergence(sal, d, convention="mit") == pytest.approx(_matlab_kl(sal, d), abs=1e-12)
        assert F.cc(sal, d, convention="mit") == pytest.approx(np.corrcoef(sal.ravel(), d.ravel())[0, 1], abs=1e-12)


# --- the fused one-pass path (evaluate's fast path) equals the per-metric functions ------------------------
def test_evaluate_fast_path_equals_pysaliency_golden_values_with_threads(tmp_path_factory, datasets_dir):
    from types import SimpleNamespace

    import pandas as pd

    from saliency.metrics import evaluate

    golden = json.loads((GOLDEN / "osie_pysaliency.json").read_text())
    names, d = _osie_maps(tmp_path_factory, datasets_dir)
    preds, gt, base = np.load(d / "preds.npy"), np.load(d / "gt.npy"), np.load(d / "baseline.npy")
    fx = np.load(d / "fixations.npz")
    frame = pd.DataFrame({"stimulus": np.asarray(names)[fx["n"]], "x": fx["x"], "y": fx["y"]})

    class Shards:
        stimuli = names
        manifest = pd.DataFrame({"stimulus": names, "height": 600, "width": 800})
        fixations = SimpleNamespace(data=frame)

        def iter_ground_truth(self, stimuli):
            for s in stimuli:
                k = names.index(s)
                yield SimpleNamespace(stimulus=s, height=600, width=800, density=gt[k],
                                      fixations=frame[frame["stimulus"] == s].reset_index(drop=True))

    mets = ["auc_judd", "sauc", "nss", "ig", "cc", "kl", "sim"]
    keys = {"auc_judd": "auc", "sauc": "sauc", "nss": "nss", "ig": "ig", "cc": "cc", "kl": "kl", "sim": "sim"}
    runs = [evaluate(dict(zip(names, preds, strict=True)), Shards(), metrics=mets, baseline=lambda g: base,
                     workers=w, keep_per_fixation=True) for w in (1, 2)]
    for res in runs:
        for m in mets:
            np.testing.assert_allclose(res.per_image[m], golden["per_image"][keys[m]], atol=1e-9, rtol=0)
        for m in ("auc_judd", "sauc", "nss", "ig"):
            np.testing.assert_allclose(res.per_fixation[m][:25], golden["first_per_fixation"][keys[m]], atol=1e-9)
            assert res.summary[f"{m}_fixation_mean"] == pytest.approx(golden["fixation_mean"][keys[m]], abs=1e-9)
    pd.testing.assert_frame_equal(runs[0].per_image, runs[1].per_image)


@settings(max_examples=30, deadline=None)
@given(m=arrays(np.float64, (9, 13), elements=st.integers(-6, 6).map(lambda v: v / 4)),
       g=arrays(np.float32, (9, 13), elements=st.floats(0, 2, width=32)),
       f=st.lists(st.tuples(st.floats(0, 12.99), st.floats(0, 8.99)), min_size=0, max_size=12),
       neg=st.lists(st.integers(0, 9 * 13 - 1), min_size=1, max_size=30), as32=st.booleans())
def test_fused_scores_equal_the_per_metric_functions(m, g, f, neg, as32):
    from saliency.metrics.fused import FUSED_METRICS, Workspace, log_density_at, score_pysaliency

    smap = m.astype(np.float32) if as32 else m                # negative values, ties, float32 inputs
    x = np.array([p[0] for p in f])
    y = np.array([p[1] for p in f])
    base = np.exp(-((np.arange(13)[None] - 6.0) ** 2 + (np.arange(9)[:, None] - 4.0) ** 2) / 20)
    idx = F.fixation_indices(x, y, smap.shape)
    neg = np.asarray(neg)
    got = score_pysaliency(smap, idx, FUSED_METRICS, density=g, neg_idx=neg,
                           baseline_log=log_density_at(base, idx), workspace=Workspace())
    assert got["cc"][0] == pytest.approx(F.cc(smap, g), abs=1e-12)
    assert got["kl"][0] == pytest.approx(F.kl_divergence(smap, g), abs=1e-12)
    assert got["sim"][0] == pytest.approx(F.sim(smap, g), abs=1e-12)
    if not f:
        assert "nss" not in got and "auc_judd" not in got
        return
    np.testing.assert_array_equal(got["auc_judd"][1], F.auc_per_fixation(smap, x, y))
    np.testing.assert_array_equal(got["auc_borji"][1], got["auc_judd"][1])
    np.testing.assert_array_equal(got["sauc"][1], F.sauc_per_fixation(smap, x, y, neg % 13, neg // 13))
    np.testing.assert_allclose(got["nss"][1], F.nss_per_fixation(smap, x, y), atol=1e-12)
    np.testing.assert_allclose(got["ig"][1], F.information_gain_per_fixation(smap, x, y, base), atol=1e-12)


def test_fused_rejects_non_finite_maps():
    from saliency.metrics.fused import score_pysaliency

    m = np.ones((5, 6))
    m[2, 3] = np.nan
    for mets in ({"auc_judd"}, {"nss"}, {"cc"}):
        with pytest.raises(SchemaError, match="NaN"):
            score_pysaliency(m, np.array([0, 7]), mets, density=np.ones((5, 6)))


# --- the mit convention's fixes against the MATLAB code (issue 14) ------------------------------------------
def test_matlab_colon_is_symmetric_and_ends_at_the_maximum():
    # MATLAB: (0:0.1:0.3) - (0:0.1:0.4)(1:4) = [0 0 -2.7756e-17 -5.5511e-17]; x(end) == 0.3
    x, y = F.matlab_colon(0, 0.1, 0.3), F.matlab_colon(0, 0.1, 0.4)
    np.testing.assert_array_equal(x - y[:4], [0.0, 0.0, 0.19999999999999998 - 0.2, 0.3 - 0.30000000000000004])
    assert x[-1] == 0.3
    g = F.matlab_colon(0, 0.1, 1.0)
    assert g.size == 11 and g[7] == 0.7 and 7 * 0.1 != 0.7 and g[5] == 0.5
    assert F.matlab_colon(0, 0.1, 0.05).tolist() == [0.0]
    assert F.matlab_colon(0, 0.1, float("nan")).size == 0


def test_mit_borji_is_nan_with_at_most_one_fixated_pixel():
    m = _gauss_map()
    assert np.isnan(F.auc_borji(m, [3.2, 3.7], [4.1, 4.9], convention="mit"))     # the same pixel twice
    assert np.isfinite(F.auc_borji(m, [3.2, 9.0], [4.1, 4.9], convention="mit"))


def test_mit_random_stream_runs_on_across_images(osie_shards):
    from saliency.metrics import evaluate

    res = evaluate({s: np.sqrt(osie_shards.density(s).astype(np.float64)) for s in osie_shards.stimuli[:3]},
                   osie_shards, metrics=["auc_borji"], convention="mit", stimuli=osie_shards.stimuli[:3],
                   workers=2)
    rng = np.random.default_rng(0)
    want = []
    for s in osie_shards.stimuli[:3]:
        gt = osie_shards.load(s)
        want.append(F.auc_borji(np.sqrt(gt.density.astype(np.float64)), gt.fixations["x"], gt.fixations["y"],
                                convention="mit", rng=rng))
    np.testing.assert_allclose(res.per_image["auc_borji"], want, rtol=0, atol=1e-15)
    gt = osie_shards.load(osie_shards.stimuli[1])
    reseeded = F.auc_borji(np.sqrt(gt.density.astype(np.float64)), gt.fixations["x"], gt.fixations["y"],
                           convention="mit")
    assert reseeded != want[1]


def test_mit_shuffled_negatives_come_from_ten_random_other_images():
    from saliency.metrics.evaluation import FixationPool

    n = 13
    frame = pd.DataFrame({"stimulus": [f"i{k:02d}" for k in range(n)], "x": np.arange(n) + 0.5,
                          "y": np.full(n, 2.5)})
    pool = FixationPool.from_frame(frame, {f"i{k:02d}": (6, 20) for k in range(n)})
    rng = np.random.default_rng(0)
    neg = pool.mit_negative_indices("i04", (6, 20), rng)
    assert neg.size == 10 and 2 * 20 + 4 not in neg and set(neg) <= {2 * 20 + k for k in range(n)}
    assert not np.array_equal(neg, pool.mit_negative_indices("i04", (6, 20), rng))   # the stream runs on
    # other sizes: the other image's binary map is bicubically resized (MATLAB imresize) and thresholded > 0
    big = FixationPool.from_frame(frame.iloc[:2], {"i00": (12, 40), "i01": (12, 40)})
    got = big.mit_negative_indices("i00", (6, 20), np.random.default_rng(0))
    b = np.zeros((12, 40))
    b[2, 1] = 1
    np.testing.assert_array_equal(got, np.flatnonzero(imresize(b, (6, 20)) > 0))


def _full_transport(p, q):
    """EMD by the full (R·C)² transport LP after FastEMD's zero-cost pre-flow (independent of the code)."""
    from scipy import optimize, sparse

    a = np.floor(np.maximum(p - q, 0).ravel() * 1e6 + 0.5)          # FastEMD's integer masses (sums 1)
    b = np.floor(np.maximum(q - p, 0).ravel() * 1e6 + 0.5)
    r, c = p.shape
    rr, cc = np.divmod(np.arange(r * c), c)
    d = np.sqrt((rr[:, None] - rr[None]) ** 2 + (cc[:, None] - cc[None]) ** 2).ravel()
    n = r * c
    k = np.arange(n * n)
    out_of = sparse.csr_matrix((np.ones(n * n), (k // n, k)), (n, n * n))    # flow leaving cell i
    into = sparse.csr_matrix((np.ones(n * n), (k % n, k)), (n, n * n))      # flow arriving at cell j
    if a.sum() <= b.sum():
        res = optimize.linprog(d, A_eq=out_of, b_eq=a, A_ub=into, b_ub=b, bounds=(0, None), method="highs")
    else:
        res = optimize.linprog(d, A_eq=into, b_eq=b, A_ub=out_of, b_ub=a, bounds=(0, None), method="highs")
    return res.fun / 1e6


def test_emd_on_real_maps_with_zeros_and_negative_cells(osie_shards):
    gt = osie_shards.load(osie_shards.stimuli[0])
    density = gt.density.astype(np.float64)
    pred = np.zeros_like(density)                       # a map with large zero areas
    pred[200:400, 300:500] = 1.0
    small = imresize(density, scale=1 / 32)
    assert (small < 0).any() or (imresize(pred, small.shape) < 0).any()   # bicubic leaves negative cells
    for p in (pred,):
        v = F.emd(p, density, convention="mit")
        im1 = small / small.sum()
        im2 = imresize(p, small.shape)
        im2 = im2 / im2.sum()
        assert v == pytest.approx(_full_transport(im1, im2), rel=1e-5) and v > 0   # distances unrounded there
    # EMD.m resizes the ground truth by the scale 1/32 but the prediction to that SIZE (600/32 is not an
    # integer), so even a perfect prediction scores > 0, as in MATLAB
    assert F.emd(density, density, convention="mit") > 0

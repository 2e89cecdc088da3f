"""Metric-specific maps of probabilistic models (saliency.metrics.probabilistic) and
``evaluate(probabilistic=True)``: input checks, and every metric equal to pysaliency's benchmark evaluation
(run in the reference venv) on a Gaussian centre-bias model and on a small trained network's densities."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from saliency.errors import SchemaError
from saliency.metrics.centre_bias import CentreGaussian, centre_fit_stimuli, fit_scoring_centre
from saliency.metrics.evaluation import evaluate, sizes_from_manifest
from saliency.metrics.probabilistic import (
    check_log_density,
    expected_saliency_map,
    log_likelihood_per_fixation,
    logsumexp,
    metric_maps,
)

ROOT = Path(__file__).resolve().parents[2]
SIGMA = 2.5
H, W = 36, 48


class _Shards:
    """Minimal in-memory shard set (the members evaluate uses), ground truth blurred with SIGMA."""

    def __init__(self, frame: pd.DataFrame, n: int) -> None:
        from types import SimpleNamespace

        self.stimuli = [f"s{k}.png" for k in range(n)]
        self.manifest = pd.DataFrame({"stimulus": self.stimuli, "height": H, "width": W})
        self.fixations = SimpleNamespace(data=frame)
        self.meta = {"sigma_px": SIGMA}

    def iter_ground_truth(self, stimuli=None):
        from types import SimpleNamespace

        for s in (self.stimuli if stimuli is None else stimuli):
            f = self.fixations.data[self.fixations.data["stimulus"] == s].reset_index(drop=True)
            counts = np.zeros((H, W))
            np.add.at(counts, (f["y"].to_numpy().astype(int), f["x"].to_numpy().astype(int)), 1.0)
            d = gaussian_filter(counts, SIGMA, mode="constant")
            yield SimpleNamespace(stimulus=s, height=H, width=W, density=d / d.sum(), fixations=f)


def _toy(n: int = 5, seed: int = 0) -> _Shards:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        m = int(rng.integers(8, 20))
        x = np.clip(rng.normal(W / 2, W / 5, m), 0, W - 1e-3)
        y = np.clip(rng.normal(H / 2, H / 5, m), 0, H - 1e-3)
        rows += [(f"s{k}.png", f"o{i % 3}", float(a), float(b)) for i, (a, b) in enumerate(zip(x, y, strict=True))]
    return _Shards(pd.DataFrame(rows, columns=["stimulus", "observer", "x", "y"]), n)


def _normalised(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a - logsumexp(a)


# ------------------------------------------------------------------------------------------ unit checks
def test_invalid_log_densities_name_the_stimulus():
    good = _normalised(np.zeros((4, 5)))
    assert check_log_density(good).shape == (4, 5)
    for bad, word in [(good + 0.5, "not normalised"), (np.where(np.eye(4, 5) > 0, np.nan, good), "NaN"),
                      (np.where(np.eye(4, 5) > 0, -np.inf, good), "zero probability"),
                      (np.where(np.eye(4, 5) > 0, np.inf, good), r"\+inf")]:
        with pytest.raises(SchemaError, match=word) as exc:
            check_log_density(bad, stimulus="img7.jpg")
        assert "img7.jpg" in str(exc.value)
    with pytest.raises(SchemaError, match="2-D"):
        check_log_density(np.zeros((2, 2, 2)))


def test_maps_are_the_papers_choices():
    rng = np.random.default_rng(1)
    ld = _normalised(rng.normal(size=(H, W)))
    nf = _normalised(-((np.arange(W) - W / 2) ** 2)[None, :] / 200.0 + np.zeros((H, 1)))
    maps = metric_maps(ld, nonfixation_log_density=nf, blur=SIGMA)
    np.testing.assert_allclose(maps["density"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(maps["log"], ld)
    np.testing.assert_allclose(maps["sauc"], ld - nf)
    np.testing.assert_allclose(maps["expected"], gaussian_filter(np.exp(ld), SIGMA, mode="constant"))
    # response matrices Ry, Rx of a separable blur give the same map: Ryᵀ p Rx
    ry = gaussian_filter(np.eye(H), SIGMA, mode="constant", axes=(1,))
    rx = gaussian_filter(np.eye(W), SIGMA, mode="constant", axes=(1,))
    np.testing.assert_allclose(expected_saliency_map(np.exp(ld), (ry, rx)), maps["expected"], atol=1e-15)
    with pytest.raises(SchemaError, match="nonfixation"):
        metric_maps(ld, kinds=["sauc"])
    uniform = _normalised(np.zeros((H, W)))
    assert np.allclose(log_likelihood_per_fixation(uniform, [1.5, 7.2], [3.0, 9.9]), 0.0)


def test_one_centre_rule_for_evaluate_and_baselines():
    assert centre_fit_stimuli(["a", "b", "c"], ["a"]) == ["b", "c"]
    assert centre_fit_stimuli(["a", "b"], ["a", "b"]) == ["a", "b"]
    shards = _toy()
    ld = {s: _normalised(np.zeros((H, W))) for s in shards.stimuli}
    res = evaluate(ld, shards, metrics=["ig"], log_density=True, stimuli=shards.stimuli[:2])
    centre = fit_scoring_centre(shards.fixations.data, sizes_from_manifest(shards.manifest), shards.stimuli,
                                shards.stimuli[:2])
    assert res.summary["centre_fit_stimuli"] == 3
    base = np.log(centre.density(H, W))
    want = []
    for gt in shards.iter_ground_truth(shards.stimuli[:2]):
        i = gt.fixations["y"].to_numpy().astype(int) * W + gt.fixations["x"].to_numpy().astype(int)
        want.append(np.mean((ld[gt.stimulus].ravel()[i] - base.ravel()[i]) / np.log(2)))
    np.testing.assert_allclose(res.per_image["ig"], want, rtol=1e-12)


def test_probabilistic_scores_beat_the_plain_density_on_the_truth():
    shards = _toy(n=4, seed=5)
    truth = {gt.stimulus: np.log(np.maximum(gt.density, 1e-300)) for gt in shards.iter_ground_truth()}
    truth = {k: _normalised(np.maximum(v, -200)) for k, v in truth.items()}
    plain = evaluate(truth, shards, log_density=True)
    prob = evaluate(truth, shards, probabilistic=True)
    assert prob.summary["maps"]["cc"] == "expected" and prob.summary["maps"]["sauc"] == "sauc"
    for m in ("auc_judd", "nss", "ig"):
        assert prob.summary[m] == pytest.approx(plain.summary[m], rel=1e-12)


# -------------------------------------------------------------------------------- against pysaliency
def _reference(tmp: Path, shards: _Shards, logd: dict[str, np.ndarray], ref_python: Path) -> dict:
    frame = shards.fixations.data
    order = {s: k for k, s in enumerate(shards.stimuli)}
    centre = fit_scoring_centre(frame, sizes_from_manifest(shards.manifest), shards.stimuli, shards.stimuli)
    clog = np.log(centre.density(H, W))
    np.save(tmp / "log_densities.npy", np.stack([logd[s] for s in shards.stimuli]))
    np.save(tmp / "gt.npy", np.stack([gt.density for gt in shards.iter_ground_truth()]))
    np.save(tmp / "nonfixation.npy", clog)
    np.save(tmp / "baseline.npy", clog)
    np.savez(tmp / "fixations.npz", x=frame["x"].to_numpy(), y=frame["y"].to_numpy(),
             n=frame["stimulus"].map(order).to_numpy())
    (tmp / "config.json").write_text(json.dumps({"sigma_px": SIGMA}))
    script = ROOT / "benchmarks" / "pysaliency_probabilistic.py"
    r = subprocess.run([str(ref_python), str(script), str(tmp), str(tmp / "out.json")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((tmp / "out.json").read_text())["values"]


def _compare(tmp: Path, shards: _Shards, logd: dict[str, np.ndarray], ref_python: Path) -> None:
    ref = _reference(tmp, shards, logd, ref_python)
    metrics = ["auc_judd", "sauc", "nss", "ig", "ll", "cc", "kl", "sim"]
    res = evaluate(logd, shards, metrics=metrics, probabilistic=True, blur=SIGMA, keep_per_fixation=True)
    pf = res.per_fixation
    for m in ("auc_judd", "sauc", "nss", "ig", "ll"):
        np.testing.assert_allclose(pf[m].to_numpy(), ref[m], rtol=0, atol=1e-6, err_msg=m)
    for m in ("cc", "kl", "sim"):
        np.testing.assert_allclose(res.per_image[m].to_numpy(), ref[m], rtol=0, atol=1e-6, err_msg=m)


def test_gaussian_centre_bias_model_equals_pysaliency(tmp_path, ref_python):
    shards = _toy()
    model = CentreGaussian((0.45, 0.55), ((0.05, 0.01), (0.01, 0.08)), 0)
    ld = _normalised(np.log(model.density(H, W)))
    _compare(tmp_path, shards, {s: ld for s in shards.stimuli}, ref_python)


@pytest.mark.slow   # ~18 s on the shared machine (torch import, pysaliency in a subprocess)
def test_trained_network_densities_equal_pysaliency(tmp_path, ref_python):
    torch = pytest.importorskip("torch")
    from saliency.training.modeling import TinySaliencyNet

    torch.manual_seed(0)
    torch.set_num_threads(1)
    shards = _toy(seed=3)
    images = torch.rand(len(shards.stimuli), 3, H, W, generator=torch.Generator().manual_seed(1))
    target = torch.tensor(np.stack([gt.density for gt in shards.iter_ground_truth()]), dtype=torch.float32)
    net = TinySaliencyNet(width=4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(5):                      # a few steps of cross-entropy training: a trained network
        opt.zero_grad()
        loss = -(net(images)[:, 0] * target).sum(dim=(1, 2)).mean()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(images)[:, 0].double().numpy()
    _compare(tmp_path, shards, {s: _normalised(out[k]) for k, s in enumerate(shards.stimuli)}, ref_python)

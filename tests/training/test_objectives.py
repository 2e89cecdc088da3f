"""Losses against the metric definitions: golden values from pysaliency, gradients, the structure loss."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from saliency.errors import ConfigError, UnknownNameError
from saliency.maps.fusion import fixation_count_map
from saliency.training.losses import LOSSES, WeightedObjective, structure_loss

# Golden values computed once with the reference implementation (pysaliency 0.2.22, .refvenv; re-checked live
# by test_golden_values_are_pysaliencys below):
#   rng = np.random.default_rng(20261122); logits = rng.normal(size=(12, 16)); pred = softmax(logits)
#   g = rng.random((12, 16)) ** 3; g /= g.sum(); xs, ys as below
#   pysaliency.metrics.CC(pred, g), mean(NSS(pred, xs, ys)), SIM(pred, g), MIT_KLDiv(pred, g)
GOLD = {"cc": 0.005366340557881868, "nss": 0.3422628595168025, "sim": 0.43190854682410595,
        "kl": 1.1756555294165396}
XS = np.array([1.5, 7.2, 7.9, 15.1, 3.3])
YS = np.array([0.5, 6.6, 6.1, 11.9, 2.0])


def _case():
    rng = np.random.default_rng(20261122)
    logits = rng.normal(size=(12, 16))
    g = rng.random((12, 16)) ** 3
    g /= g.sum()
    pred = torch.log_softmax(torch.tensor(logits).flatten(), 0).view(1, 1, 12, 16)
    fmap = torch.tensor(fixation_count_map(XS, YS, 12, 16), dtype=torch.float64)[None, None]
    return pred, torch.tensor(g)[None, None], fmap


_PYSALIENCY_GOLD = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
np.string_ = np.bytes_
import pysaliency.metrics as M
rng = np.random.default_rng(20261122)
logits = rng.normal(size=(12, 16))
pred = np.exp(logits - logits.max()); pred /= pred.sum()
g = rng.random((12, 16)) ** 3; g /= g.sum()
xs, ys = np.array(json.loads(sys.argv[1])), np.array(json.loads(sys.argv[2]))
print(json.dumps({"cc": float(M.CC(pred, g)), "nss": float(np.mean(M.NSS(pred, xs, ys))),
                  "sim": float(M.SIM(pred, g)), "kl": float(M.MIT_KLDiv(pred, g))}))
"""


def test_golden_values_are_pysaliencys(ref_python):
    proc = subprocess.run([str(ref_python), "-c", _PYSALIENCY_GOLD, json.dumps(XS.tolist()), json.dumps(YS.tolist())],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    live = json.loads(proc.stdout.strip().splitlines()[-1])
    assert live == pytest.approx(GOLD, rel=1e-9)


@pytest.mark.parametrize("name", ["kl", "cc", "nss", "sim"])
def test_fixation_terms_equal_pysaliency(name):
    pred, g, fmap = _case()
    value = float(LOSSES.get(name)(pred, g, fmap))
    assert value == pytest.approx(GOLD[name], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["kl", "cc", "nss", "sim", "ll"])
def test_terms_average_per_image_and_are_differentiable(name):
    pred, g, fmap = _case()
    pred2 = torch.cat([pred, torch.flip(pred, dims=(-1,))]).float().requires_grad_(True)
    g2, f2 = torch.cat([g, g]).float(), torch.cat([fmap, fmap]).float()
    batch = LOSSES.get(name)(pred2, g2, f2)
    singles = [float(LOSSES.get(name)(pred2.detach()[i:i + 1], g2[i:i + 1], f2[i:i + 1])) for i in range(2)]
    assert float(batch) == pytest.approx(np.mean(singles), rel=1e-5)
    batch.backward()
    assert torch.isfinite(pred2.grad).all() and pred2.grad.abs().sum() > 0


def test_ll_term_is_the_metrics_log_likelihood_in_nats():
    from saliency.metrics.probabilistic import log_likelihood_per_fixation

    pred, g, fmap = _case()
    bits_over_uniform = log_likelihood_per_fixation(pred[0, 0].numpy(), XS, YS).mean()
    assert float(LOSSES.get("ll")(pred, g, fmap)) == pytest.approx(bits_over_uniform * np.log(2) - np.log(12 * 16),
                                                                    rel=1e-6)   # float32
    with pytest.raises(ConfigError, match="fixation maps"):
        LOSSES.get("ll")(pred, g, None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_terms_equal_the_numpy_metrics(seed):
    """The torch terms (one definition: saliency.models.map_similarity) are saliency.metrics' CC, KL, NSS, SIM."""
    from saliency.metrics import fixation as M

    rng = np.random.default_rng(seed)
    h, w = 20, 30
    logits = torch.tensor(rng.normal(size=(h, w)) * 2, dtype=torch.float64)
    pred = torch.log_softmax(logits.flatten(), 0).view(1, 1, h, w)
    g = rng.random((h, w)) ** 4
    g /= g.sum()
    xs, ys = rng.uniform(0, w, 9), rng.uniform(0, h, 9)
    fmap = torch.tensor(fixation_count_map(xs, ys, h, w))[None, None]
    p = np.exp(pred[0, 0].numpy())
    numpy = {"cc": M.cc(p, g), "kl": M.kl_divergence(p, g), "sim": M.sim(p, g), "nss": M.nss(p, xs, ys)}
    for name, want in numpy.items():
        got = float(LOSSES.get(name)(pred, torch.tensor(g)[None, None], fmap))
        assert got == pytest.approx(want, rel=1e-5, abs=1e-7), name


def test_perfect_prediction_optimises_every_term():
    _, g, _ = _case()
    pred = torch.log(g)
    # the losses compute in float32 (training precision): 0 up to float32 rounding of exp/log (the exact
    # residue depends on the CPU's vector math kernels; 2.1e-9 seen on one machine, 0 on another)
    assert float(LOSSES.get("kl")(pred, g)) == pytest.approx(0, abs=1e-6)
    assert float(LOSSES.get("cc")(pred, g)) == pytest.approx(1)
    assert float(LOSSES.get("sim")(pred, g)) == pytest.approx(1)


def test_default_objective_is_kl_minus_tenth_cc_minus_tenth_nss():
    pred, g, fmap = _case()
    obj = WeightedObjective({"kl": 1.0, "cc": -0.1, "nss": -0.1})
    loss, terms = obj(pred, {"density": g, "fixation_map": fmap})
    assert float(loss) == pytest.approx(GOLD["kl"] - 0.1 * GOLD["cc"] - 0.1 * GOLD["nss"], rel=1e-6)
    assert set(terms) == {"kl", "cc", "nss"}


def test_objective_rejects_unknown_or_wrong_task_terms():
    with pytest.raises(UnknownNameError, match="known"):
        WeightedObjective({"klx": 1.0})
    with pytest.raises(ConfigError, match="structure"):
        WeightedObjective({"structure": 1.0}, task="fixation")


def _reference_structure_loss(pred, mask):
    # F3Net (github.com/weijun88/F3Net, train.py) / PraNet structure_loss, written as published.
    weit = 1 + 5 * torch.abs(F.avg_pool2d(mask, kernel_size=31, stride=1, padding=15) - mask)
    wbce = F.binary_cross_entropy_with_logits(pred, mask, reduction="none")
    wbce = (weit * wbce).sum(dim=(2, 3)) / weit.sum(dim=(2, 3))
    pred = torch.sigmoid(pred)
    inter = ((pred * mask) * weit).sum(dim=(2, 3))
    union = ((pred + mask) * weit).sum(dim=(2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1)
    return (wbce + wiou).mean()


def test_structure_loss_matches_f3net_and_prefers_the_right_mask():
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(2, 1, 40, 40, generator=g) > 0.7).float()
    logits = torch.randn(2, 1, 40, 40, generator=g)
    assert float(structure_loss(logits, mask)) == pytest.approx(float(_reference_structure_loss(logits, mask)))
    good = (mask * 2 - 1) * 8
    assert float(structure_loss(good, mask)) < 0.05 < float(structure_loss(-good, mask))

"""Readout path (issue 11): feature cache (hit, invalidation, corruption refused), multi-dataset batches,
the centre-bias input, log-space ensembles / flip TTA, training and few-shot adaptation on real shards."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saliency.datasets.multi import MultiDatasetBatches
from saliency.errors import ChecksumError, ConfigError
from saliency.models.readout import (
    LogMeanExpEnsemble,
    ReadoutNet,
    centre_bias_log_density,
    fit_centre_bias,
)
from saliency.shards import open_shards
from saliency.training.features import _digest, cache_key, canvas_fixations, extract_features
from saliency.training.readout_fit import ReadoutData, adapt_readout, fit_readout, init_centre_bias

CANVAS = (48, 64)


def _net(datasets=("osie",)):
    torch.manual_seed(0)
    return ReadoutNet(encoders=("effnet_lite0",), hidden=(4,), datasets=datasets, pretrained=False)


def test_feature_cache_hit_invalidation_and_corruption(osie_shards, tmp_path):
    sh = open_shards(osie_shards)
    net = _net()
    seen: list[str] = []
    first = extract_features(sh, CANVAS, net, tmp_path, on_image=seen.append)
    assert len(seen) == len(sh.stimuli) and set(first) == set(sh.stimuli)
    assert [f.shape[0] for f in first[sh.stimuli[0]]] == list(net.feature_channels)
    assert all(f.dtype == torch.float16 for f in first[sh.stimuli[0]])
    seen.clear()
    again = extract_features(sh, CANVAS, net, tmp_path, on_image=seen.append)  # hit: nothing recomputed
    assert seen == [] and torch.equal(again[sh.stimuli[0]][1], first[sh.stimuli[0]][1])
    other = extract_features(sh, (32, 64), net, tmp_path, on_image=seen.append)  # canvas changed → new entry
    assert len(seen) == len(sh.stimuli) and other[sh.stimuli[0]][0].shape[-2:] == (4, 8)
    seen.clear()
    with torch.no_grad():  # encoder weights changed → new entry
        next(net.encoders[0].parameters()).add_(1.0)
    extract_features(sh, CANVAS, net, tmp_path, on_image=seen.append)
    assert len(seen) == len(sh.stimuli)
    assert len(list(tmp_path.glob("*/index.json"))) == 3
    part = tmp_path / _digest(cache_key(sh, CANVAS, _net()) | {"hflip": False}) / "part-00000.safetensors"
    raw = bytearray(part.read_bytes())
    raw[-10] ^= 0xFF
    part.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="feature cache part"):
        extract_features(sh, CANVAS, _net(), tmp_path)


def test_multi_dataset_batches_are_single_dataset_weighted_and_deterministic():
    b = MultiDatasetBatches({"a": 30, "b": 10}, batch_size=4, seed=1)
    ep = list(b.epoch(0))
    assert len(ep) == 10
    assert all(x[0] == y[0] and np.array_equal(x[1], y[1]) for x, y in zip(ep, b.epoch(0), strict=True))
    assert any(x[0] != y[0] or not np.array_equal(x[1], y[1]) for x, y in zip(ep, b.epoch(1), strict=True))
    assert all(i.max() < {"a": 30, "b": 10}[n] for n, i in ep)
    counts = {"a": 0, "b": 0}
    for e in range(200):
        for n, _ in b.epoch(e):
            counts[n] += 1
    assert counts["a"] / (counts["a"] + counts["b"]) == pytest.approx(0.75, abs=0.03)
    eq = MultiDatasetBatches({"a": 30, "b": 10}, batch_size=4, weights={"a": 1 / 30, "b": 1 / 10}, seed=1)
    assert eq.probabilities() == pytest.approx([0.5, 0.5])
    one = MultiDatasetBatches({"a": 8}, batch_size=4)
    assert sorted(np.concatenate([i for _, i in one.epoch(3)]).tolist()) == list(range(8))
    with pytest.raises(ConfigError, match="unknown dataset"):
        MultiDatasetBatches({"a": 3}, batch_size=2, weights={"c": 1.0})


def test_centre_bias_density_is_normalised_and_fitted_by_maximum_likelihood():
    lp = centre_bias_log_density(torch.tensor([0.4, 0.6, math.log(0.1), math.log(0.2), -4.0]), 30, 40)
    assert torch.logsumexp(lp.flatten(), 0).item() == pytest.approx(0.0, abs=1e-5)
    assert np.unravel_index(int(lp.argmax()), lp.shape) == (17, 15)  # v = 0.6 → row 17.5; u = 0.4 → col 15.5
    g = torch.Generator().manual_seed(0)
    u = (0.45 + 0.12 * torch.randn(20000, generator=g)).clamp(0, 1)
    v = (0.55 + 0.08 * torch.randn(20000, generator=g)).clamp(0, 1)
    p = fit_centre_bias(u, v)
    assert p[0].item() == pytest.approx(0.45, abs=0.01) and p[1].item() == pytest.approx(0.55, abs=0.01)
    assert p[2].exp().item() == pytest.approx(0.12, rel=0.05) and p[3].exp().item() == pytest.approx(0.08, rel=0.05)


def test_centre_bias_enters_the_log_density_with_its_weight():
    net = _net().eval()
    feats = [torch.zeros(1, c, 6, 8) for c in net.feature_channels]
    with torch.no_grad():
        net.readout[-1].bias.zero_()
        net.readout[-1].weight.zero_()  # readout constant → the output is exactly w·log c, renormalised
        net.dataset_params[0, 5] = 2.0
        out = net.head(feats, CANVAS, "osie")[0, 0]
        cb = centre_bias_log_density(net.dataset_params[0, :5], *CANVAS)
    expect = torch.log_softmax((2.0 * cb).flatten(), 0).view(CANVAS)
    assert torch.allclose(out, expect, atol=1e-5)


def test_ensemble_and_flip_average_densities_exactly_in_log_space():
    torch.manual_seed(0)
    a, b = _net().eval(), _net().eval()
    with torch.no_grad():
        b.readout[-1].weight.mul_(-3.0)
    x = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        ya, yb = a(x), b(x)
        yaf, ybf = a(x.flip(-1)).flip(-1), b(x.flip(-1)).flip(-1)
        ens = LogMeanExpEnsemble([a, b], hflip=True)(x)
    expect = torch.log((ya.double().exp() + yb.double().exp() + yaf.double().exp() + ybf.double().exp()) / 4)
    assert torch.allclose(ens.double(), expect, atol=1e-6)
    assert torch.allclose(ens.exp().sum((2, 3)), torch.ones(2, 1), atol=1e-5)


def test_training_raises_the_likelihood_and_adaptation_fits_only_dataset_parameters(osie_shards, mit1003_shards,
                                                                                    tmp_path):
    net = _net(("osie",))
    data = {}
    for name, root in (("osie", osie_shards), ("mit1003", mit1003_shards)):
        sh = open_shards(root)
        feats = extract_features(sh, CANVAS, net, tmp_path)
        data[name] = ReadoutData(name, sh, feats, canvas_fixations(sh, sh.stimuli, CANVAS),
                                 {"train": list(sh.stimuli)})
    init_centre_bias(net, {"osie": data["osie"]}, CANVAS)
    hist = fit_readout(net, {"osie": data["osie"]}, CANVAS, epochs=6, batch_size=4, lr=3e-2)
    assert hist[-1]["loss_nats"] < hist[0]["loss_nats"]
    readout_before = [p.detach().clone() for p in net.readout.parameters()]
    adapted = adapt_readout(net, data["mit1003"], CANVAS, stimuli=data["mit1003"].splits["train"], epochs=3)
    assert adapted.datasets == ("mit1003",) and adapted.dataset_params.shape == (1, net.dataset_params.shape[1])
    assert all(torch.equal(p, q) for p, q in zip(adapted.readout.parameters(), readout_before, strict=True))
    assert not torch.equal(adapted.dataset_params[0], net.params_for(None))
    assert set(adapted.readable_params(None)) >= {"centre_mean_x", "centre_sigma_y", "blur_sigma_px"}


def test_lbfgs_adaptation_raises_the_likelihood_and_its_prior_holds_the_row(osie_shards, mit1003_shards, tmp_path):
    from saliency.training.readout_fit import ADAPT_METHODS, _batch, log_likelihood

    net = _net(("osie",))
    data = {}
    for name, root in (("osie", osie_shards), ("mit1003", mit1003_shards)):
        sh = open_shards(root)
        data[name] = ReadoutData(name, sh, extract_features(sh, CANVAS, net, tmp_path),
                                 canvas_fixations(sh, sh.stimuli, CANVAS), {"train": list(sh.stimuli)})
    init_centre_bias(net, {"osie": data["osie"]}, CANVAS)
    fit_readout(net, {"osie": data["osie"]}, CANVAS, epochs=2, batch_size=4, lr=3e-2)
    d, names = data["mit1003"], data["mit1003"].splits["train"]
    feats, fix = _batch(d, names, CANVAS, grid=True)

    def ll(model):
        with torch.no_grad():
            return float(log_likelihood(model.head(feats, tuple(feats[0].shape[-2:]), None), fix))

    start = adapt_readout(net, d, CANVAS, stimuli=names, method="lbfgs", epochs=1, prior=1e9)  # held at its start
    fitted = adapt_readout(net, d, CANVAS, stimuli=names, **ADAPT_METHODS["lbfgs"])
    adam = adapt_readout(net, d, CANVAS, stimuli=names, epochs=3)
    assert ll(fitted) > ll(start) + 0.01 and ll(fitted) >= ll(adam) - 1e-4
    # the projected fast path gives the same density as the plain one
    with torch.no_grad():
        zs = fitted.project(feats)
        assert torch.allclose(fitted.head(zs, CANVAS, None, projected=True), fitted.head(feats, CANVAS, None),
                              atol=1e-5)
    with pytest.raises(ConfigError, match="unknown method"):
        adapt_readout(net, d, CANVAS, stimuli=names, method="sgd")


def test_multi_scale_readout_caches_each_scale_and_round_trips_its_parameters(osie_shards, tmp_path):
    from saliency.models.released import load_released, save_released

    BIG = (96, 128)
    sh = open_shards(osie_shards)
    torch.manual_seed(0)
    net = ReadoutNet(encoders=("effnet_lite0",), hidden=(4,), datasets=("osie",), pretrained=False,
                     scales=(1.0, 0.5))
    assert net.param_names()[-2:] == ["scale_logit_1", "scale_logit_0.5"] and net.dataset_params.shape[1] == 13
    feats = extract_features(sh, BIG, net, tmp_path)
    one = ReadoutNet(encoders=("effnet_lite0",), hidden=(4,), datasets=("osie",), pretrained=False)
    one.encoders.load_state_dict(net.encoders.state_dict())
    single = extract_features(sh, BIG, one, tmp_path)  # the scale-1 entry is shared with the 1-scale net
    assert len(list(tmp_path.iterdir())) == 2
    name = sh.stimuli[0]
    assert len(feats[name]) == 6 and all(torch.equal(a, b) for a, b in zip(feats[name][:3], single[name],
                                                                            strict=True))
    assert feats[name][3].shape[-1] == feats[name][0].shape[-1] // 2
    x = torch.randn(1, 3, *BIG)
    with torch.no_grad():
        net.dataset_params[0, 11:] = torch.tensor([0.0, 3.0])  # mostly the half scale
        out = net(x)
        assert out.shape == (1, 1, *BIG) and torch.allclose(out.exp().sum(), torch.tensor(1.0), atol=1e-5)
        w = net.readable_params("osie")
        assert w["weight_scale0.5"] > 0.9 and abs(w["weight_scale1"] + w["weight_scale0.5"] - 1) < 1e-6
        # weight 1 on scale 1 equals the one-scale net with the same shared readout
        net.dataset_params[0, 11:] = torch.tensor([50.0, 0.0])
        one.readout.load_state_dict(net.readout.state_dict())
        one.dataset_params.copy_(net.dataset_params[:, :11])
        assert torch.allclose(net(x), one(x), atol=1e-5)
    net.canvas = BIG
    spec = {"kind": "readout", "task": "fixation", "canvas": list(BIG), "config": net.config, "external": []}
    save_released(tmp_path / "m", net, spec, "# m\n")
    back = load_released(tmp_path / "m")
    assert back.scales == (1.0, 0.5) and torch.allclose(back.dataset_params, net.dataset_params.half().float())
    with pytest.raises(ConfigError, match="scales"):
        ReadoutNet(pretrained=False, scales=(0.5, 1.0))


def test_saliency_adapt_cli_fits_a_multi_scale_model_and_writes_a_loadable_adapted_model(mit1003_shards, tmp_path,
                                                                                          capsys):
    import json

    from saliency.cli.app import main
    from saliency.models.readout import external_refs
    from saliency.models.released import load_released, save_released

    torch.manual_seed(0)
    net = ReadoutNet(encoders=("effnet_lite0",), hidden=(4,), datasets=("osie",), scales=(1.0, 0.5))
    spec = {"kind": "readout", "task": "fixation", "canvas": [96, 128], "config": net.config | {"dataset": None},
            "external": external_refs(net), "name": "tiny", "trainable_parameters": 0, "scores": {},
            "dataset_parameters": {}, "licence": "test", "description": "tiny",
            "training": {"datasets": {}, "loss": "log-likelihood", "commit": "test", "train_seconds": 0}}
    save_released(tmp_path / "tiny", net, spec, "# tiny\n")
    with pytest.raises(SystemExit) as info:
        main(["adapt", str(tmp_path / "tiny"), "--shards", str(mit1003_shards), "--images", "2", "--out",
              str(tmp_path / "adapted"), "--no-score", "--cache", str(tmp_path / "cache"), "--json"])
    assert info.value.code in (0, None)
    res = json.loads(capsys.readouterr().out)
    assert res["adapted_on"] == 2 and res["scored"] == 1
    assert abs(res["parameters"]["weight_scale1"] + res["parameters"]["weight_scale0.5"] - 1) < 1e-6
    adapted = load_released(tmp_path / "adapted")
    out_spec = json.loads((tmp_path / "adapted" / "spec.json").read_text())
    assert out_spec["adaptation"]["recipe"]["method"] == "lbfgs" and adapted.datasets == ("mit1003",)
    assert adapted.shifts and "readout_shift1" in res["parameters"]  # the default recipe adds them (1 layer)
    assert not torch.allclose(adapted.dataset_params[0, :13], net.params_for(None).half().float())


def test_readout_shifts_start_as_the_identity_and_round_trip(tmp_path):
    from saliency.models.released import load_released, save_released

    torch.manual_seed(0)
    net = ReadoutNet(encoders=("effnet_lite0",), hidden=(4, 3), datasets=("a", "b"), pretrained=False)
    with torch.no_grad():  # an image term that varies (the untrained encoder's features are nearly flat)
        for m in net.readout:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.mul_(30)
    x = torch.randn(1, 3, 96, 128)
    shifted = net.with_shifts()
    assert shifted.dataset_params.shape == (2, 13) and shifted.param_names()[-2:] == ["readout_shift1",
                                                                                       "readout_shift2"]
    with torch.no_grad():
        assert torch.allclose(shifted(x), net(x), atol=1e-6)  # shifts at 0: the same density
        shifted.dataset_params[:, -2:] = torch.tensor([3.0, -2.0])
        assert (shifted(x) - net(x)).abs().max() > 1e-4
    assert shifted.readable_params("b")["readout_shift1"] == 3.0
    shifted.canvas = (96, 128)
    spec = {"kind": "readout", "task": "fixation", "canvas": [96, 128], "config": shifted.config, "external": []}
    save_released(tmp_path / "m", shifted, spec, "# m\n")
    back = load_released(tmp_path / "m")
    assert back.shifts and torch.allclose(back(x), shifted(x), atol=0.05)

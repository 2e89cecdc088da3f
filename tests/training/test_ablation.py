"""The attention ablation: one row per mechanism with finite metrics, the figure, resuming, bad names."""

from __future__ import annotations

import json
import math

import pytest
import torch

from saliency.cli.app import main
from saliency.errors import ConfigError
from saliency.reports.ablation import write_ablation_report
from saliency.training import RunConfig
from saliency.training.ablation import (
    DEFAULT_MECHANISMS,
    MECHANISMS,
    mechanism_config,
    network_config,
    run_ablation,
)
from saliency.training.config import dump_config


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _recipe(osie, mit, tmp_path) -> RunConfig:
    return RunConfig.from_dict({
        "name": "abl", "seed": 5, "runs_dir": str(tmp_path),
        "data": {"shards": str(osie), "height": 64, "width": 96, "split_fractions": [0.5, 0.25, 0.25],
                 "limit_train": 4, "limit_val": 2, "limit_test": 2, "photometric": False,
                 "extra_eval": [str(mit)], "extra_eval_limit": 2},
        "model": {"name": "resnet"},
        "train": {"epochs": 1, "batch_size": 2, "eval_batch_size": 2, "patience": 0},
    })


def test_ablation_writes_a_row_per_mechanism_with_finite_metrics_and_the_figure(
        osie_shards, mit1003_shards, tmp_path, one_thread, capsys):
    cfg = _recipe(osie_shards, mit1003_shards, tmp_path)
    out = tmp_path / "abl"
    seen = []
    res = run_ablation(cfg, mechanisms=["none", "cbam", "priors"], out=out,
                       latency_hw=(64, 96), latency_repeats=1, on_start=lambda i, n, m, s: seen.append((m, s)))
    files = write_ablation_report(res, cfg, figure_images=2)
    assert res.files == files and set(files) == {"markdown", "csv", "json", "figure"}
    assert [r["mechanism"] for r in res.rows] == ["none", "cbam", "priors"]
    # the zoo's resnet already has 8 priors: "priors" is the same network as "none", trained once
    assert seen == [("none", "train"), ("cbam", "train"), ("priors", "same as none")]
    assert res.datasets == ["osie", "mit1003"]
    for row in res.rows:
        assert row["seed"] == 5 and row["parameters"] > 0 and row["macs"] > 0 and row["latency_ms"] > 0
        for ds in res.datasets:
            ev = row["evaluation"][ds]
            for k in ("auc_judd", "sauc", "nss", "cc", "kl", "sim"):
                assert math.isfinite(ev[k]), (row["mechanism"], ds, k)
            assert math.isfinite(row["gap_closed"][ds])
    assert res.rows[1]["parameters"] > res.rows[0]["parameters"]  # CBAM adds weights
    assert res.rows[0]["evaluation"]["mit1003"]["n_images"] == 2
    for ds, b in res.baselines.items():
        assert b["gold_standard_nss"] > b["centre_gaussian_nss"], ds
    table = json.loads((out / "ablation.json").read_text())
    assert [r["mechanism"] for r in table["table"]] == ["none", "cbam", "priors"]
    assert table["seed"] == 5 and "5 for every mechanism" in (out / "ablation.md").read_text()
    csv_lines = (out / "ablation.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and "osie.gap_closed" in csv_lines[0]
    png = (out / "attention.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

    # resumable, through the CLI and a TOML recipe: nothing is trained again, the numbers are the same
    recipe = tmp_path / "abl.toml"
    recipe.write_text(dump_config(cfg))
    with pytest.raises(SystemExit) as rc:
        main(["ablate", str(recipe), "--out", str(out), "-m", "none,cbam", "--figure-images", "0", "--json"])
    assert rc.value.code == 0
    again = json.loads(capsys.readouterr().out)
    assert again["skipped"] == ["none", "cbam"] and again["datasets"] == ["osie", "mit1003"]
    assert again["table"][1] == table["table"][1]


def test_cli_unknown_mechanism_exits_3_listing_known_names(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "r"\n')
    with pytest.raises(SystemExit) as rc:
        main(["ablate", str(recipe), "-m", "none,cbma"])
    assert rc.value.code == 3
    assert "known: none, se, eca, cbam" in capsys.readouterr().err


def test_unknown_mechanism_is_a_config_error_listing_known_names():
    with pytest.raises(ConfigError, match=r"unknown attention mechanism 'cbma'; known: none, se, eca, cbam"):
        run_ablation(RunConfig(), mechanisms=["none", "cbma"])


def test_every_mechanism_is_a_valid_override_of_the_recipe_model():
    base = RunConfig.from_dict({"model": {"name": "effnet_lite0", "options": {"pretrained": False}}})
    required = {"none", "se", "eca", "cbam", "non_local", "sagan", "mhsa", "sk", "residual_attention", "swin",
                "axial", "fusion", "priors", "no_priors", "stn"}
    assert required <= set(DEFAULT_MECHANISMS) == set(MECHANISMS.names())
    nets = {}
    for name in DEFAULT_MECHANISMS:
        net = network_config(mechanism_config(base, name))
        assert net["encoder"] == "effnet_lite0" and net["pretrained"] is False  # recipe options kept
        nets[name] = net
    none = nets["none"]
    assert none["blocks"] == ["none"] * 5 and none["bottleneck"] == "none" and not none["fusion"]
    assert nets["mhsa"]["bottleneck"] == "mhsa" and nets["stn"]["stn"] and nets["no_priors"]["n_priors"] == 0
    assert nets["cbam"]["blocks"] == ["none", "none", "cbam", "cbam", "cbam"]


def test_recipe_attention_is_removed_before_the_mechanism_is_applied():
    base = RunConfig.from_dict({"model": {"name": "effnet_lite0_cbam", "options": {"pretrained": False}}})
    assert network_config(mechanism_config(base, "none"))["blocks"] == ["none"] * 5
    assert network_config(mechanism_config(base, "mhsa"))["blocks"] == ["none"] * 5


def test_tiny_model_cannot_be_ablated():
    with pytest.raises(ConfigError, match="zoo model"):
        mechanism_config(RunConfig.from_dict({"model": {"name": "tiny"}}), "se")


@pytest.mark.parametrize("mechanism", DEFAULT_MECHANISMS)
def test_every_mechanism_trains_a_step_of_the_recipe_model(mechanism, one_thread):
    from saliency.training.loop import make_optimizer, train_step
    from saliency.training.losses import DEFAULT_FIXATION_WEIGHTS, WeightedObjective
    from saliency.training.modeling import build_network

    base = RunConfig.from_dict({"model": {"name": "effnet_lite0", "options": {"pretrained": False}}})
    cfg = mechanism_config(base, mechanism)
    model = build_network(cfg.model.name, cfg.model.options, "fixation").train()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 64, 96, generator=g)
    dens = torch.rand(2, 1, 64, 96, generator=g)
    targets = {"density": dens / dens.sum(dim=(2, 3), keepdim=True),
               "fixation_map": (torch.rand(2, 1, 64, 96, generator=g) > 0.99).float()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss, _ = train_step(model, make_optimizer(model, cfg), WeightedObjective(DEFAULT_FIXATION_WEIGHTS), x,
                         targets, grad_clip=1.0)
    assert torch.isfinite(loss)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())

"""``saliency models``: the zoo listing (names, tasks, parameter and multiply-add counts, latency) and the
counters it relies on."""

from __future__ import annotations

import json

import pytest
from torch import nn

from saliency.cli.app import main
from saliency.models import MODELS, build_model, count_macs, count_parameters
from saliency.models.introspect import attention_summary, measure_latency
from saliency.models.zoo import get_config


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as rc:
        main(list(args))
    return rc.value.code, capsys.readouterr().out


def test_count_macs_matches_the_convolution_and_linear_formulas():
    # conv 3→8, 3×3, same padding, on 5×7: 8·3·9 MACs per output pixel; then linear 8·5·7 → 10
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 7, 10))
    assert count_macs(model, 5, 7) == 8 * 3 * 9 * 5 * 7 + 8 * 5 * 7 * 10
    assert count_parameters(model) == (8 * 3 * 9 + 8) + (8 * 5 * 7 * 10 + 10)


def test_measure_latency_reports_consistent_throughput():
    lat = measure_latency(nn.Conv2d(3, 4, 3), batch=3, height=16, width=16, warmup=1, repeats=3)
    assert lat.median_s > 0 and lat.repeats == 3
    assert lat.images_per_s == pytest.approx(3 / lat.median_s)


def test_attention_summary_names_blocks_by_stride():
    assert attention_summary(get_config("effnet_lite0")) == "-"
    assert attention_summary(get_config("effnet_lite0_cbam")) == "cbam@8,16,32"
    assert attention_summary(get_config("effnet_lite0_nonlocal")) == "non_local@16"
    assert attention_summary(get_config("effnet_lite0_mhsa")) == "mhsa bottleneck"
    assert attention_summary(get_config("effnet_lite0_fusion")) == "scale fusion"


def test_models_json_lists_every_zoo_entry(capsys):
    code, out = _run(capsys, "models", "--json", "--height", "32", "--width", "32")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == MODELS.names()
    for r in rows:
        cfg = get_config(r["name"])
        assert r["task"] == cfg.task and r["description"] == cfg.description
        assert r["parameters"] > 0 and r["macs"] > 0 and "latency_ms" not in r


def test_models_json_counts_equal_the_built_networks(capsys):
    code, out = _run(capsys, "models", "--json", "-m", "effnet_lite0", "-m", "resnet_nonlocal",
                     "--height", "64", "--width", "96")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == {"effnet_lite0", "resnet_nonlocal"}
    for name, r in rows.items():
        model = build_model(name, pretrained=False)
        assert r["parameters"] == count_parameters(model)
        assert r["macs"] == count_macs(model, 64, 96)
        assert (r["height"], r["width"]) == (64, 96)
    assert rows["effnet_lite0"]["pretrained"] and rows["effnet_lite0"]["priors"] == 8


def test_models_latency_and_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    code, out = _run(capsys, "models", "--json", "--latency", "-m", "resnet", "--height", "32", "--width", "64",
                     "--batch", "2", "--repeats", "1")
    assert code == 0
    (row,) = json.loads(out)
    assert row["latency_ms"] > 0 and row["batch"] == 2
    assert row["images_per_s"] == pytest.approx(2 / (row["latency_ms"] / 1e3))
    code, out = _run(capsys, "models", "-m", "effnet_lite0_cbam", "--height", "32", "--width", "32", "--latency",
                     "--repeats", "1")
    assert code == 0
    assert "effnet_lite0_cbam" in out and "cbam@8,16,32" in out and "img/s" in out


def test_models_unknown_name_exits_3_listing_the_zoo(capsys):
    with pytest.raises(SystemExit) as rc:
        main(["models", "-m", "no_such_net"])
    assert rc.value.code == 3
    assert "effnet_lite0" in capsys.readouterr().err


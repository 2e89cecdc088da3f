"""The benchmark commands end to end on a few real OSIE stimuli with a tiny fixation checkpoint:
``evaluate`` (probabilistic by default for checkpoints), ``export metric-maps``, ``export submission``,
``benchmark`` (Markdown / CSV / JSON) and the HTML report's benchmark section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def setup(datasets_dir: Path, tmp_path_factory):
    import torch

    from saliency.maps import MapOptions
    from saliency.readers.nus import read_nus
    from saliency.shards import build_shards
    from saliency.training.checkpoint import save_checkpoint
    from saliency.training.modeling import TinySaliencyNet, model_spec

    tmp = tmp_path_factory.mktemp("bench")
    table = read_nus(datasets_dir / "osie")
    build_shards(table.select_stimuli(table.stimuli()[:5]), tmp / "shards", MapOptions(sigma=24.0))
    torch.manual_seed(0)
    net = TinySaliencyNet(width=4)
    save_checkpoint(tmp / "tiny.pt", {"model": net.state_dict(), "model_spec": model_spec(net, "tiny", {}),
                                      "canvas": [48, 64]})
    (tmp / "test.json").write_text(json.dumps({"splits": {"test": table.stimuli()[:3]}}))
    return tmp


def _run(*args: str) -> None:
    from saliency.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 0


def test_evaluate_is_probabilistic_for_fixation_checkpoints(setup, capsys):
    common = [str(setup / "tiny.pt"), "--shards", str(setup / "shards"), "--stimuli-file", str(setup / "test.json"),
              "--split", "test", "--json"]
    _run("evaluate", *common)
    prob = json.loads(capsys.readouterr().out)
    assert prob["probabilistic"] is True and prob["maps"]["sauc"] == "sauc" and "ll" in prob["metrics"]
    assert prob["centre_fit_stimuli"] == 2                 # fitted to the two stimuli not scored
    _run("evaluate", *common, "--plain")
    plain = json.loads(capsys.readouterr().out)
    assert "maps" not in plain and plain["nss"] == pytest.approx(prob["nss"], rel=1e-12)


def test_export_metric_maps_and_submission(setup, datasets_dir, capsys):
    out = setup / "mm"
    _run("export", "metric-maps", str(setup / "tiny.pt"), "--shards", str(setup / "shards"), "--out", str(out),
         "--stimuli-file", str(setup / "test.json"), "--split", "test", "--json")
    index = json.loads((out / "index.json").read_text())
    assert set(index["maps"]) == {"density", "sauc", "log", "expected"}
    assert len(list((out / "expected").glob("*.npy"))) == 3
    d = np.load(next((out / "density").glob("*.npy")))
    assert d.dtype == np.float32 and d.sum() == pytest.approx(1.0, rel=1e-4)
    img = sorted((datasets_dir / "osie" / "stimuli").iterdir())[0]
    _run("export", "submission", str(setup / "tiny.pt"), str(img), "--out", str(setup / "mit300"), "--json")
    assert (setup / "mit300" / (img.stem + ".jpg")).is_file()
    _run("export", "submission", str(setup / "tiny.pt"), str(img), "--out", str(setup / "sub.hdf5"),
         "--layout", "tuebingen", "--json")
    assert (setup / "sub.hdf5").is_file()


def test_benchmark_tables_and_report_section(setup, capsys):
    from saliency.reports.benchmark import GAP_ROW, MODEL_ROW, read_benchmark
    from saliency.reports.report import ReportData, render_report

    out = setup / "bench"
    _run("benchmark", str(setup / "tiny.pt"), "--shards", str(setup / "shards"), "--stimuli-file",
         str(setup / "test.json"), "--split", "test", "-b", "centre_gaussian", "-b", "gold_standard",
         "-m", "auc_judd", "-m", "nss", "-m", "ig", "--out", str(out), "--format", "csv")
    csv = capsys.readouterr().out
    assert csv.startswith("dataset,n_images,row,metric,value,map") and "gap closed,nss" in csv
    (t,) = read_benchmark(out / "benchmark.json")
    assert t.n_images == 3 and t.metrics == ["auc_judd", "nss", "ig", "ll"]
    assert set(t.rows) == {MODEL_ROW, "model (plain map)", "centre bias", "gold standard", GAP_ROW}
    c, g, m = t.rows["centre bias"]["nss"], t.rows["gold standard"]["nss"], t.rows[MODEL_ROW]["nss"]
    assert t.rows[GAP_ROW]["nss"] == pytest.approx((m - c) / (g - c))
    assert "| map used | p | p | log p | log p |" in (out / "benchmark.md").read_text()
    html = render_report(ReportData(title="t", benchmark=[t]))
    assert "Benchmark (probabilistic, per dataset)" in html and "gap closed" in html


def test_sauc_baseline_model_in_evaluate_export_and_benchmark(setup, capsys):
    from saliency.reports.benchmark import MODEL_ROW, read_benchmark

    common = [str(setup / "tiny.pt"), "--shards", str(setup / "shards"), "--stimuli-file", str(setup / "test.json"),
              "--split", "test"]
    _run("evaluate", *common, "-m", "sauc", "--json")
    centre = json.loads(capsys.readouterr().out)
    _run("evaluate", *common, "-m", "sauc", "--json", "--sauc-baseline", "model")
    model = json.loads(capsys.readouterr().out)
    assert centre["sauc_baseline"] == "centre" and model["sauc_baseline"] == "model"
    assert model["sauc"] != centre["sauc"]
    out = setup / "mm_model"
    _run("export", "metric-maps", *common, "--out", str(out), "-m", "sauc", "--sauc-baseline", "model", "--json")
    capsys.readouterr()
    assert json.loads((out / "index.json").read_text())["sauc_baseline"] == "model"
    _run("benchmark", *common, "-b", "centre_gaussian", "-m", "sauc", "--out", str(setup / "bench_model"),
         "--format", "csv", "--sauc-baseline", "model")
    capsys.readouterr()
    (t,) = read_benchmark(setup / "bench_model" / "benchmark.json")
    assert t.sauc_baseline == "model" and t.rows[MODEL_ROW]["sauc"] == pytest.approx(model["sauc"], rel=1e-12)
    assert "the model's average over the other images" in (setup / "bench_model" / "benchmark.md").read_text()

"""The HTML report: self-contained, complete, renders in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency.io import write_json
from saliency.reports import GalleryItem, ReportData, build_report, gap_closed_of, render_report
from saliency.reports.figures import overlay
from saliency.reports.rundir import rank_stimuli


def _gaussian(h: int, w: int, cx: float, cy: float, s: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    return (g / g.sum()).astype(np.float32)


def _item(name: str, rng: np.random.Generator) -> GalleryItem:
    h, w = 60, 80
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    truth = _gaussian(h, w, 50, 20, 8)
    pred = np.log(_gaussian(h, w, 45, 25, 10))
    return GalleryItem(stimulus=name, image=image, prediction=pred, truth=truth, log_density=True,
                       attention={"mhsa": _gaussian(8, 10, 6, 3, 2)},
                       fixations=(np.array([50.0, 48.0]), np.array([20.0, 22.0])), scores={"NSS": 1.5})


def _data() -> ReportData:
    rng = np.random.default_rng(0)
    curves = [{"epoch": e, "train_loss": 3.0 - 0.3 * e, "val_loss": 3.1 - 0.25 * e, "val_NSS": 0.8 + 0.2 * e,
               "lr": 1e-3} for e in range(5)]
    per_image = pd.DataFrame({"stimulus": [f"{i}.jpg" for i in range(6)], "NSS": rng.random(6) * 2,
                              "CC": rng.random(6)})
    return ReportData(
        title="Saliency report: test", model_name="tiny",
        model_summary={"NSS": 1.6, "CC": 0.5, "AUC_Judd": 0.82, "n_images": 6, "convention": "pysaliency"},
        baselines={"centre_bias": {"NSS": 1.0, "CC": 0.35, "AUC_Judd": 0.78},
                   "gold_standard": {"NSS": 2.0, "CC": 0.7, "AUC_Judd": 0.88}},
        per_image=per_image, curves=curves,
        ingest={"dataset": "osie", "kept": 950, "dropped": 50,
                "dropped_by_reason": {"outside stimulus": 30, "during blink": 20},
                "files": {"a.asc": {"kept": 950, "dropped": {"outside stimulus": 30, "during blink": 20}}}},
        best=[_item("1.jpg", rng)], worst=[_item("2.jpg", rng)], info={"dataset": "osie"},
    )


def test_gap_closed_is_fraction_of_centre_to_gold_nss_distance():
    frac, centre, gold = gap_closed_of({"NSS": 1.6}, {"centre_bias": {"NSS": 1.0}, "gold_standard": {"NSS": 2.0}})
    assert frac == pytest.approx(0.6)
    assert (centre, gold) == ("centre_bias", "gold_standard")
    assert gap_closed_of({"NSS": 1.6}, {"centre_bias": {"NSS": 1.0}}) is None


def test_rank_stimuli_orders_best_and_worst_without_overlap():
    df = pd.DataFrame({"stimulus": list("abcde"), "NSS": [0.1, 2.0, 1.0, -0.5, 1.5], "MAE": [0.5, 0.1, 0.2, 0.9, 0.3]})
    assert rank_stimuli(df, "NSS", 2) == (["b", "e"], ["d", "a"])
    assert rank_stimuli(df, "MAE", 1) == (["b"], ["d"])  # error metric: lower is better
    assert rank_stimuli(df.head(3), "NSS", 2) == (["b", "c"], ["a"])


def test_overlay_keeps_image_where_map_is_zero():
    img = np.full((10, 12, 3), 100, np.uint8)
    m = np.zeros((10, 12))
    m[5, 6] = 1.0
    out = overlay(img, m)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[0, 0] == 100).all() and not (out[5, 6] == 100).all()


def test_report_is_self_contained_and_complete():
    html = render_report(_data())
    # every src/href is a data URI or an in-page anchor; nothing points outside the file
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith(("data:image/png;base64,", "#")) for r in refs), refs
    assert "http://" not in html and "https://" not in html and "file:" not in html
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    for needle in ("Metrics", "Training", "Best and worst", "Ingest", "gold_standard", "60.0%", "outside stimulus",
                   "attention: mhsa", "ground truth + fixations"):
        assert needle in html, needle
    assert html.count("data:image/png;base64,") >= 2 + 2 * 4  # curves, bars, 2 gallery rows of 4 panels
    assert render_report(_data()) == html  # deterministic


def test_build_report_reads_a_pipeline_directory(tmp_path: Path):
    run = tmp_path / "run"
    d = _data()
    write_json(run / "manifest.json", {"version": 1, "stages": {
        "evaluate": {"status": "ok", "duration_s": 1.0, "key": "abc",
                     "ingredients": {"pipeline": {"task": "fixation", "dataset": "osie"}}}}})
    write_json(run / "evaluate" / "summary.json", dict(d.model_summary))
    d.per_image.to_parquet(run / "evaluate" / "per_image.parquet")
    write_json(run / "evaluate" / "info.json", {"model": "tiny", "task": "fixation", "dataset": "osie"})
    write_json(run / "baselines" / "summary.json", {"baselines": dict(d.baselines)})
    write_json(run / "ingest" / "ingest_report.json", dict(d.ingest))
    (run / "train").mkdir()
    (run / "train" / "metrics.jsonl").write_text("\n".join(json.dumps(c) for c in d.curves) + "\n{\"epoch\": 9, ")
    rng = np.random.default_rng(1)
    out = build_report(run, gallery_k=2, gallery_loader=lambda s: _item(s, rng))
    assert out == run / "report" / "report.html"
    html = out.read_text()
    assert "tiny" in html and "60.0%" in html and "val_NSS" in html
    best, worst = rank_stimuli(d.per_image, "NSS", 2)
    for s in best + worst:
        assert f"{s} image" in html


def _chromium() -> str:
    """The browser: ``$SALIENCY_CHROMIUM`` (set by .ci/run once it found one: must work), else on PATH."""
    forced = os.environ.get("SALIENCY_CHROMIUM")
    if forced:
        if not (Path(forced).is_file() and os.access(forced, os.X_OK)):
            pytest.fail(f"SALIENCY_CHROMIUM={forced!r} is not an executable file")
        return forced
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it when it can")
    return exe


def _screenshot(html_path: Path, png: Path, tmp: Path) -> None:
    exe = _chromium()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000",
           "--hide-scrollbars", html_path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and png.is_file(), (
        f"{exe} failed to render the report (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def test_report_renders_in_headless_chromium(tmp_path: Path):
    html_path = tmp_path / "report.html"
    html_path.write_text(render_report(_data()))
    png = tmp_path / "shot.png"
    _screenshot(html_path, png, tmp_path)
    shot = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    assert shot.shape == (2000, 1280)
    non_white = float((shot < 245).mean())
    assert shot.std() > 20 and non_white > 0.05, (shot.std(), non_white)


def test_report_understands_the_lower_case_keys_of_saliency_metrics():
    """Summaries as ``saliency.metrics.evaluate`` / ``compute_baselines`` write them (lower-case metric names,
    per-fixation means, bookkeeping numbers) give the gap closed and a table of metrics only."""
    model = {"convention": "pysaliency", "metrics": ["nss", "cc"], "n_images": 8, "nss": 1.3, "cc": 0.5,
             "nss_fixation_mean": 1.4}
    extra = {"sigma_px": 24.0, "centre_gaussian_fit_stimuli": 72, "baseline": "x", "split": "test"}
    baselines = {"chance": {"metrics": ["nss", "cc"], "nss": 0.0, "cc": 0.0, **extra},
                 "centre_gaussian": {"metrics": ["nss", "cc"], "nss": 1.0, "cc": 0.4, **extra},
                 "centre_loo": {"metrics": ["nss", "cc"], "nss": 1.1, "cc": 0.42, **extra},
                 "gold_standard": {"metrics": ["nss", "cc"], "nss": 2.0, "cc": 0.9, **extra}}
    frac, centre, gold = gap_closed_of(model, baselines)
    assert frac == pytest.approx(0.3) and (centre, gold) == ("centre_gaussian", "gold_standard")
    html = render_report(ReportData(title="t", model_summary=model, baselines=baselines))
    assert "30.0%" in html and "<th class=\"\">NSS</th>" in html
    assert "sigma_px" not in html and "centre_gaussian_fit_stimuli" not in html and "fixation_mean" not in html

"""The real stages end to end on a tiny SOD folder: train → evaluate → report, then a cached re-run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency.pipeline import load_pipeline, run_pipeline
from saliency.pipeline.stages import stages_for


def _sod_folder(root: Path, n: int = 10) -> None:
    """Images with a bright rectangle on noise; masks of the rectangle. One mask is stored transposed
    (w × h), as 63 masks of the shared SOD copy are."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        h, w = 40, 56
        img = (rng.random((h, w, 3)) * 90).astype(np.uint8)
        mask = np.zeros((h, w), bool)
        y, x = int(rng.integers(4, 20)), int(rng.integers(4, 30))
        mask[y:y + 14, x:x + 18] = True
        img[mask] = 230
        Image.fromarray(img).save(root / "images" / f"{i:03d}.png")
        stored = np.rot90(mask, 1) if i == 0 else mask  # SODFolder.mask applies rot90(·, -1)
        Image.fromarray(stored).save(root / "masks" / f"{i:03d}.png")


def _doc(tmp: Path, split: str) -> dict:
    return {
        "pipeline": {"name": "toy", "task": "sod", "dataset": "toy_sod", "out": str(tmp / "run"),
                     "data_root": str(tmp / "data")},
        "train": {"data": {"height": 32, "width": 32, "split_fractions": [0.4, 0.2, 0.4], "num_workers": 0},
                  "model": {"name": "tiny"},
                  "train": {"epochs": 1, "batch_size": 4, "device": "cpu", "monitor": "mae", "monitor_mode": "min"}},
        "evaluate": {"split": split},
        "report": {"gallery": 1, "rank_by": "MAE"},
    }


def test_sod_pipeline_scores_like_the_training_loop_and_caches(tmp_path: Path):
    _sod_folder(tmp_path / "data" / "toy_sod")
    run = tmp_path / "run"
    spec = load_pipeline(document=_doc(tmp_path, "test"))
    first = run_pipeline(spec, stages_for(spec))
    assert [o.status for o in first.outcomes] == ["ran", "ran", "ran"]
    ours = json.loads((run / "evaluate" / "summary.json").read_text())
    loop = json.loads(next((run / "train" / "eval").glob("*/summary.json")).read_text())
    for k in ("mae", "max_fm", "mean_fm", "adp_fm", "sm", "max_em", "wfm", "n_images"):
        assert ours[k] == pytest.approx(loop[k], rel=1e-12, abs=1e-12), k
    second = run_pipeline(spec, stages_for(spec))
    assert [o.status for o in second.outcomes] == ["cached"] * 3

    # every image, including the one whose mask is stored transposed: only evaluate and report re-run
    spec = load_pipeline(document=_doc(tmp_path, "all"))
    third = run_pipeline(spec, stages_for(spec))
    assert [o.status for o in third.outcomes] == ["cached", "ran", "ran"]
    summary = json.loads((run / "evaluate" / "summary.json").read_text())
    info = json.loads((run / "evaluate" / "info.json").read_text())
    assert info["n_images"] == 10 and "000" in info["stimuli"]
    for k in ("mae", "max_fm", "sm", "max_em", "wfm"):
        assert 0.0 <= summary[k] <= 1.0, (k, summary[k])
    assert summary["max_fm"] > 0.0  # masks are read as 0/255 (a 0/1 mask would give F = 0)
    html = (run / "report" / "report.html").read_text()
    assert "MAE" in html and "S-measure" in html and "ground truth" in html

"""The OSIE pipeline's readout path end to end on a few real images: ingest → maps → train (a readout recipe,
as ``saliency train`` runs it) → evaluate and report load the run's model folder."""

from __future__ import annotations

import json
from pathlib import Path

from saliency.pipeline import load_pipeline, run_pipeline
from saliency.pipeline.stages import stages_for
from saliency.reports.rundir import find_checkpoint

RECIPE = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "osie_readout.toml"


def _doc(tmp: Path, datasets_dir: Path) -> dict:
    return {
        "pipeline": {"name": "toy", "task": "fixation", "dataset": "osie", "out": str(tmp / "run"),
                     "data_root": str(datasets_dir)},
        "ingest": {"reader": "nus", "path": "osie", "pixels_per_degree": 24.0, "max_stimuli": 10},
        "maps": {"sigma": 24.0, "sigma_unit": "px"},
        "baselines": {"names": ["centre_gaussian", "gold_standard"]},
        "train": {"recipe": str(RECIPE), "data": {"height": 48, "width": 64, "split_fractions": [0.5, 0.2, 0.3]},
                  "train": {"epochs": 1, "batch_size": 4, "device": "cpu"}},
        "evaluate": {"split": "test", "metrics": ["nss", "cc"]},
        "report": {"gallery": 1},
    }


def test_readout_recipe_trains_evaluates_and_reports(tmp_path: Path, datasets_dir: Path):
    spec = load_pipeline(document=_doc(tmp_path, datasets_dir))
    res = run_pipeline(spec, stages_for(spec))
    assert all(o.status == "ran" for o in res.outcomes), [(o.stage, o.status) for o in res.outcomes]
    train = tmp_path / "run" / "train"
    assert find_checkpoint(train) == train / "model"
    assert (tmp_path / "run" / "features").is_dir()  # the relative feature cache lives under the run
    splits = json.loads((train / "splits.json").read_text())["splits"]
    info = json.loads((tmp_path / "run" / "evaluate" / "info.json").read_text())
    assert info["model"] == "readout" and info["checkpoint"] == "train/model"
    assert info["stimuli_scored"] == sorted(splits["test"])
    summary = json.loads((tmp_path / "run" / "evaluate" / "summary.json").read_text())
    assert summary["nss"] > 0.0 and -1.0 <= summary["cc"] <= 1.0  # better than chance even after one epoch
    # the evaluate stage (features from the images) scores the model the train stage scored (cached float16
    # features) on the same test images
    trained = json.loads((train / "generalisation.json").read_text())["osie test"]
    assert abs(trained["nss"] - summary["nss"]) < 0.02
    assert "readout" in (tmp_path / "run" / "report" / "report.html").read_text()

"""The baselines stage scores exactly the images the model is evaluated on (the train stage's split)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency.errors import ConfigError
from saliency.pipeline import load_pipeline
from saliency.pipeline.stages import resolve_train_dict, split_stimuli, stages_for

NAMES = [f"{i}.jpg" for i in range(1001, 1061)]


class _Names:
    """A data source with stimulus names only (split computation never loads a sample)."""

    stimuli = NAMES


def _spec(tmp: Path, data: dict, **extra):
    doc = {"pipeline": {"name": "p", "task": "fixation", "dataset": "osie", "out": str(tmp / "out")},
           "train": {"data": data, "model": {"name": "tiny"}}, **extra}
    return load_pipeline(document=doc)


@pytest.mark.parametrize("data", [
    {"split_fractions": [0.8, 0.1, 0.1]},
    {"split_fractions": [0.5, 0.2, 0.3], "split_salt": "x", "limit_test": 4},
])
def test_baseline_split_equals_the_training_split(tmp_path, data):
    from saliency.training import RunConfig
    from saliency.training.data import build_run_data

    spec = _spec(tmp_path, data)
    cfg = RunConfig.from_dict(resolve_train_dict(spec, spec.stage_settings("train"), shards=tmp_path / "s",
                                                 out_dir=tmp_path / "out" / "train"))
    splits = build_run_data(cfg, source=_Names()).splits
    for split in ("train", "val", "test"):
        assert split_stimuli(spec, NAMES, split) == splits[split]
    assert split_stimuli(spec, NAMES, "all") == sorted(s for v in splits.values() for s in v)
    assert split_stimuli(spec, NAMES, "test", limit=2) == splits["test"][:2]


def test_baselines_key_follows_the_split_rule_and_the_evaluate_split(tmp_path):
    stage = next(s for s in stages_for(_spec(tmp_path, {})) if s.name == "baselines")
    assert stage.key_extra is not None
    key = stage.key_extra
    base = key(_spec(tmp_path, {}), {})
    assert base["split"] == "test"
    assert key(_spec(tmp_path, {"split_salt": "y"}), {}) != base
    assert key(_spec(tmp_path, {}, evaluate={"split": "val"}), {})["split"] == "val"
    assert key(_spec(tmp_path, {}), {"split": "all"})["split"] == "all"


def test_a_split_without_a_train_stage_is_a_config_error(tmp_path):
    spec = load_pipeline(document={"pipeline": {"name": "p", "task": "fixation", "out": str(tmp_path),
                                                "stages": ["ingest", "maps", "baselines"]}})
    assert split_stimuli(spec, NAMES, "all") == sorted(NAMES)
    with pytest.raises(ConfigError, match="needs a train stage"):
        split_stimuli(spec, NAMES, "test")

"""Pipeline files are validated whole before anything runs: the [pipeline] table and every stage's table
(strict types, unknown keys refused with their dotted key), and one --set parser for every config."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency.errors import ConfigError
from saliency.pipeline import load_pipeline, run_pipeline
from saliency.pipeline.runner import check_stages
from saliency.pipeline.stages import stages_for
from saliency.settings import parse_override
from saliency.training import config as training_config

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = sorted((ROOT / "pipelines").glob("*.toml"))


def test_training_and_pipeline_configs_share_one_override_parser():
    assert training_config.parse_override is parse_override


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("path", PIPELINES, ids=[p.stem for p in PIPELINES])
def test_shipped_pipelines_validate(path, quick, tmp_path):
    spec = load_pipeline(path, quick=quick, out=tmp_path / "out")
    assert [s.name for s in check_stages(stages_for(spec), spec)] == list(spec.stages)


@pytest.mark.parametrize(("override", "needle"), [
    ("report.galery=2", r"report\.galery: unknown key; known keys: gallery, rank_by, title"),
    ("maps.sigma='wide'", r"maps\.sigma: .*number"),
    ("maps.shards.workers=0", r"maps\.shards\.workers: .*greater than 0"),
    ("ingest.on_error=ignore", r"ingest\.on_error: .*'raise' or 'skip'"),
    ("evaluate.split=tset", r"evaluate\.split"),
    ("baselines.names=['chance', 3]", r"baselines\.names\[1\]"),
    ("train.optim.lr=-1", r"train\.optim\.lr: .*greater than 0"),
    ("train.trian={epochs = 1}", r"train\.trian: unknown key"),
    ("pipeline.seed='1'", r"pipeline\.seed: .*integer"),
    ("pipeline.colour=1", r"pipeline\.colour: unknown key"),
])
def test_dry_run_refuses_a_bad_key_in_any_stage_before_anything_runs(override, needle, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=needle):
        spec = load_pipeline(ROOT / "pipelines" / "osie.toml", overrides=[override], out=out)
        run_pipeline(spec, stages_for(spec), dry_run=True)
    assert not out.exists()


def test_the_cli_dry_run_exits_3_naming_the_key(tmp_path, capsys):
    from saliency.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(["run", str(ROOT / "pipelines" / "osie.toml"), "--dry-run", "--out", str(tmp_path / "o"),
              "--set", "report.galery=2"])
    err = capsys.readouterr().err
    assert info.value.code == 3 and "report.galery: unknown key" in err and "Traceback" not in err


def test_every_bad_stage_table_is_reported_at_once(tmp_path):
    spec = load_pipeline(ROOT / "pipelines" / "osie.toml", out=tmp_path / "out",
                         overrides=["maps.sigmaa=2", "train.optim.lr=-1", "report.galery=1"])
    with pytest.raises(ConfigError) as info:
        run_pipeline(spec, stages_for(spec), dry_run=True)
    assert all(k in str(info.value) for k in ("maps.sigmaa", "train.optim.lr", "report.galery"))

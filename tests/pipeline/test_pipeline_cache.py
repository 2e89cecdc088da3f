"""The stage runner's cache: skip what is unchanged, redo exactly what changed, re-run one stage alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saliency.errors import ConfigError
from saliency.pipeline import Stage, StageContext, StageFailed, load_pipeline, run_pipeline
from saliency.settings import parse_override


def _doc(tmp: Path, **over) -> dict:
    doc = {
        "pipeline": {"name": "toy", "task": "fixation", "stages": ["a", "b", "c"], "out": str(tmp / "out")},
        "a": {"n": 3},
        "b": {"scale": 2},
        "c": {"label": "x"},
        "quick": {"a": {"n": 1}},
    }
    for k, v in over.items():
        doc[k] = {**doc.get(k, {}), **v}
    return doc


class Toy:
    """Three stages a → b → c writing small files; counts how often each ran."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.calls: list[str] = []
        self.fail_b = False

    def stages(self) -> list[Stage]:
        def a(ctx: StageContext) -> None:
            self.calls.append("a")
            text = self.src.read_text()
            (ctx.out_dir / "a.txt").write_text(text * ctx.settings["n"])

        def b(ctx: StageContext) -> None:
            self.calls.append("b")
            if self.fail_b:
                raise RuntimeError("boom")
            n = len((ctx.upstream["a"] / "a.txt").read_text())
            (ctx.out_dir / "b.json").write_text(json.dumps({"len": n * ctx.settings["scale"]}))
            ctx.summary["len"] = n

        def c(ctx: StageContext) -> None:
            self.calls.append("c")
            b_out = json.loads((ctx.upstream["b"] / "b.json").read_text())
            (ctx.out_dir / "c.txt").write_text(f"{ctx.settings['label']}:{b_out['len']}")

        return [Stage("a", a, inputs=lambda spec, s: [self.src]), Stage("b", b, needs=("a",)),
                Stage("c", c, needs=("b",))]


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    src = tmp_path / "input.txt"
    src.write_text("hello ")
    return Toy(src)


def _run(tmp: Path, toy: Toy, *, overrides=(), quick=False, **kw):
    spec = load_pipeline(document=_doc(tmp), overrides=overrides, quick=quick)
    return run_pipeline(spec, toy.stages(), **kw)


def test_second_run_skips_every_stage(tmp_path, toy):
    first = _run(tmp_path, toy)
    assert [o.status for o in first.outcomes] == ["ran", "ran", "ran"]
    second = _run(tmp_path, toy)
    assert [o.status for o in second.outcomes] == ["cached"] * 3
    assert toy.calls == ["a", "b", "c"]
    assert (tmp_path / "out" / "c" / "c.txt").read_text() == "x:36"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["stages"]["b"]["summary"] == {"len": 18}


def test_changing_a_setting_reruns_only_that_stage_and_downstream(tmp_path, toy):
    _run(tmp_path, toy)
    toy.calls.clear()
    rep = _run(tmp_path, toy, overrides=["b.scale=3"])
    assert toy.calls == ["b", "c"]
    assert [o.status for o in rep.outcomes] == ["cached", "ran", "ran"]
    assert "settings" in rep.outcomes[1].reason
    assert (tmp_path / "out" / "c" / "c.txt").read_text() == "x:54"
    toy.calls.clear()
    _run(tmp_path, toy, overrides=["b.scale=3", "c.label='y'"])
    assert toy.calls == ["c"]


def test_changed_input_file_reruns_from_the_stage_that_reads_it(tmp_path, toy):
    _run(tmp_path, toy)
    toy.calls.clear()
    toy.src.write_text("bye ")
    _run(tmp_path, toy)
    assert toy.calls == ["a", "b", "c"]


def test_identical_upstream_output_keeps_downstream_cached(tmp_path, toy):
    _run(tmp_path, toy)
    toy.calls.clear()
    rep = _run(tmp_path, toy, force=["a"])
    assert toy.calls == ["a"]  # a re-ran, produced the same bytes: b and c stay valid
    assert [o.status for o in rep.outcomes] == ["ran", "cached", "cached"]


def test_modified_output_is_detected(tmp_path, toy):
    _run(tmp_path, toy)
    toy.calls.clear()
    (tmp_path / "out" / "b" / "b.json").write_text('{"len": 0}')
    _run(tmp_path, toy)
    assert toy.calls == ["b"]  # rebuilt to the same bytes, so c stays cached


def test_quick_mode_overlays_the_quick_table(tmp_path, toy):
    spec = load_pipeline(document=_doc(tmp_path), quick=True)
    assert spec.settings["a"]["n"] == 1 and spec.quick
    run_pipeline(spec, toy.stages())
    assert (tmp_path / "out" / "a" / "a.txt").read_text() == "hello "


def test_failed_stage_is_recorded_and_rerun_alone_with_only(tmp_path, toy):
    toy.fail_b = True
    with pytest.raises(StageFailed, match="boom") as info:
        _run(tmp_path, toy)
    assert [o.status for o in info.value.report.outcomes] == ["ran", "failed", "skipped"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["stages"]["b"]["status"] == "failed" and "boom" in manifest["stages"]["b"]["error"]
    assert not (tmp_path / "out" / "b").exists() and not (tmp_path / "out" / ".b.tmp").exists()
    toy.fail_b = False
    toy.calls.clear()
    rep = _run(tmp_path, toy, only=["b"])
    assert toy.calls == ["b"] and [o.name for o in rep.outcomes] == ["b"]
    toy.calls.clear()
    rep = _run(tmp_path, toy, only=["b"])  # --only always re-runs the stage it names
    assert toy.calls == ["b"]
    toy.calls.clear()
    _run(tmp_path, toy)
    assert toy.calls == ["c"]


def test_only_refuses_a_stage_whose_upstream_never_ran(tmp_path, toy):
    with pytest.raises(ConfigError, match="needs"):
        _run(tmp_path, toy, only=["c"])


def test_dry_run_plans_without_running(tmp_path, toy):
    rep = _run(tmp_path, toy, dry_run=True)
    assert [o.status for o in rep.outcomes] == ["planned"] * 3 and toy.calls == []


def test_extra_code_roots_are_part_of_the_key(tmp_path, toy):
    spec = load_pipeline(document=_doc(tmp_path))
    run_pipeline(spec, toy.stages())
    toy.calls.clear()
    stages = toy.stages()
    stages[2] = Stage("c", stages[2].run, needs=("b",), code=("saliency.maps",))
    run_pipeline(spec, stages)
    assert toy.calls == ["c"]


@pytest.mark.parametrize(("text", "expected"), [
    ("train.epochs=2", ("train.epochs", 2)),
    ("maps.sigma_px=24.5", ("maps.sigma_px", 24.5)),
    ("train.model=unet", ("train.model", "unet")),
    ("train.sizes=[1, 2]", ("train.sizes", [1, 2])),
    ("report.title='A b'", ("report.title", "A b")),
])
def test_overrides_parse_toml_values(text, expected):
    assert parse_override(text) == expected


def test_unknown_tables_and_stages_are_config_errors(tmp_path, toy):
    with pytest.raises(ConfigError, match=r"\[zzz\] is not a known stage"):
        run_pipeline(load_pipeline(document={**_doc(tmp_path), "zzz": {"a": 1}}), toy.stages())
    spec = load_pipeline(document=_doc(tmp_path), overrides=["pipeline.stages=['a', 'q']"])
    with pytest.raises(ConfigError, match="unknown stage 'q'"):
        run_pipeline(spec, toy.stages())


def test_relative_paths_resolve_against_the_project_root(tmp_path):
    proj = tmp_path / "proj"
    (proj / "pipelines").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("")
    f = proj / "pipelines" / "p.toml"
    f.write_text('[pipeline]\nname = "p"\ntask = "sod"\n[train]\nconfig = "configs/x.toml"\n')
    spec = load_pipeline(f)
    assert spec.data_root == (tmp_path / "shared" / "datasets").resolve() or "SALIENCY_SHARED" in __import__("os").environ
    assert spec.out == (proj / "runs" / "p").resolve()
    assert load_pipeline(f, quick=True).out == (proj / "runs" / "p-quick").resolve()
    assert spec.resolve_file("configs/x.toml") == (proj / "pipelines" / "configs" / "x.toml").resolve()
    assert spec.resolve_data("sod") == spec.data_root / "sod"
    assert load_pipeline(f, data_root=tmp_path / "d").data_root == (tmp_path / "d").resolve()

"""A stage's cache key follows its real import closure (function-level imports too) and the installed
versions of the numeric libraries: editing any module a stage can run invalidates it, and nothing else."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from saliency.pipeline import Stage, load_pipeline, run_pipeline
from saliency.pipeline.closure import code_fingerprint, function_roots, import_closure
from saliency.pipeline.stages import STAGES


def _closure(stage: str) -> set[str]:
    _, roots = function_roots(STAGES.get(stage).run)
    return set(import_closure(roots, {"saliency"}))


def test_real_stage_closures_hold_the_modules_they_run():
    ingest = _closure("ingest")
    # hand-listed keys missed these: the ingest entry point, file helpers, units
    assert {"saliency.ingest", "saliency.io", "saliency.units", "saliency.readers.base"} <= ingest
    assert "saliency.training" not in ingest and "saliency.maps" not in ingest
    assert {"saliency.maps", "saliency.shards"} <= _closure("maps")
    assert {"saliency.metrics", "saliency.training"} <= _closure("evaluate")
    versions = code_fingerprint(STAGES.get("maps").run)["versions"]
    assert {"numpy", "scipy", "torch"} <= set(versions) and versions["numpy"] != "absent"


@pytest.fixture
def toypkg(tmp_path, monkeypatch):
    """A throwaway package: stage.run imports deep inside the function; deep imports leaf inside a function."""
    name = f"toypkg_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / "src" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "stage.py").write_text(textwrap.dedent(f"""
        def run(ctx):
            from {name}.deep import value
            (ctx.out_dir / "v.txt").write_text(str(value()))
    """))
    (pkg / "deep.py").write_text(textwrap.dedent("""
        def value():
            from . import leaf
            return leaf.N
    """))
    (pkg / "leaf.py").write_text("N = 1\n")
    (pkg / "unrelated.py").write_text("M = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield name, pkg
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def _edit(path: Path, text: str) -> None:
    st = path.stat()
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new mtime, as an editor's


def test_editing_a_module_in_the_closure_invalidates_the_stage(tmp_path, toypkg):
    name, pkg = toypkg
    run = importlib.import_module(f"{name}.stage").run
    doc = {"pipeline": {"name": "t", "task": "fixation", "stages": ["s"], "out": str(tmp_path / "out")}, "s": {}}
    spec = load_pipeline(document=doc)
    stages = [Stage("s", run)]
    assert [o.status for o in run_pipeline(spec, stages).outcomes] == ["ran"]
    assert [o.status for o in run_pipeline(spec, stages).outcomes] == ["cached"]
    _edit(pkg / "unrelated.py", "M = 2\n")  # not imported by the stage: still cached
    assert [o.status for o in run_pipeline(spec, stages).outcomes] == ["cached"]
    _edit(pkg / "leaf.py", "N = 2\n")  # two function-level imports away
    again = run_pipeline(spec, stages).outcomes
    assert [o.status for o in again] == ["ran"] and "code" in again[0].reason

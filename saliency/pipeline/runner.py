"""The stage runner: run a pipeline's stages in order, each cached by a hash of everything it reads.

A stage's cache key is the SHA-256 of (stage name, its settings, the pipeline's dataset/task/seed, the
content digests of its upstream stages' outputs, the content digests of the external files it
declares, and its code: the source of every module the stage's ``run`` function can execute (its import
closure, :mod:`saliency.pipeline.closure`) and the installed versions of numpy, scipy, torch and the
other libraries that can change its numbers). The key and the output
listing (size, mtime, sha256 per file) are kept in ``<out>/manifest.json``. On a re-run a stage is
skipped when its key is unchanged and its output directory still matches the listing; otherwise it is
run again into ``<out>/.<stage>.tmp`` and renamed to ``<out>/<stage>`` only on success, so a failed
stage never leaves a half-written output behind and never marks itself done. Because downstream keys
use upstream *content* digests, a re-run upstream stage that produces identical bytes does not
invalidate what follows.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import saliency
from saliency.errors import ConfigError, SaliencyError
from saliency.io import folder_lock, write_json
from saliency.pipeline.closure import code_fingerprint
from saliency.pipeline.hashing import (
    MANIFEST_NAME,
    FileHashCache,
    hash_settings,
    inputs_digest,
    listing_matches,
    tree_digest,
)
from saliency.pipeline.spec import PipelineSpec

MANIFEST_VERSION = 1


@dataclass
class StageContext:
    """What a stage function gets: its settings, where to write, and where its upstream outputs are.

    out_dir: the (temporary) directory the stage writes into; renamed to ``<out>/<stage>`` on success.
    upstream: stage name → final output directory of every stage this one needs.
    """

    name: str
    spec: PipelineSpec
    settings: dict[str, Any]
    out_dir: Path
    upstream: dict[str, Path]
    log: Callable[[str], None] = print
    summary: dict[str, Any] = field(default_factory=dict)  # a stage may put a few numbers here
    show_progress: bool = False  # long stages (training) may draw a progress bar on the terminal


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline.

    run: writes the stage's outputs into ``ctx.out_dir`` (library calls, no subprocesses).
    needs: upstream stage names (must come earlier in the pipeline).
    inputs: external files/directories the stage reads (hashed into the key).
    code: extra modules whose import closure is hashed into the key, beyond the closure of ``run``
        (which is always hashed, with the numeric dependencies' versions).
    key_extra: anything else the stage's output depends on (JSON-able; hashed into the key), e.g. the
        settings of another stage it reads (the baselines stage reads the train stage's split rule).
    check: validates the stage's settings (raising :class:`ConfigError`); called for every stage of the
        pipeline before any stage runs (``--dry-run`` included).
    """

    name: str
    run: Callable[[StageContext], None]
    needs: tuple[str, ...] = ()
    inputs: Callable[[PipelineSpec, dict[str, Any]], Sequence[Path]] | None = None
    code: tuple[str, ...] = ()
    description: str = ""
    key_extra: Callable[[PipelineSpec, dict[str, Any]], Any] | None = None
    check: Callable[[PipelineSpec], None] | None = None


@dataclass
class StageOutcome:
    name: str
    status: str  # "cached" | "ran" | "failed" | "skipped" | "planned"
    reason: str = ""
    duration_s: float = 0.0
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    out: Path
    outcomes: list[StageOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status != "failed" for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "ok": self.ok,
                "stages": [o.__dict__ for o in self.outcomes]}


class Manifest:
    """``<out>/manifest.json``: per stage its key, key ingredients, output listing, status and timing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": MANIFEST_VERSION, "stages": {}, "file_hashes": {}}
        if path.is_file():
            import json

            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ConfigError(f"{path}: corrupt pipeline manifest ({exc}); delete it to start over") from None
            if loaded.get("version") == MANIFEST_VERSION:
                self.data = loaded
        self.hashes = FileHashCache(self.data.get("file_hashes"))

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.data["stages"].get(name)

    def set_stage(self, name: str, record: dict[str, Any]) -> None:
        self.data["stages"][name] = record

    def save(self) -> None:
        self.data["file_hashes"] = self.hashes.entries
        write_json(self.path, self.data)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_stages(stages: Sequence[Stage], spec: PipelineSpec) -> list[Stage]:
    """The stages named by ``spec.stages`` in that order; every ``needs`` must come earlier; every stage's
    settings valid (``Stage.check``), so nothing runs when any stage's table has a bad key."""
    by_name = {s.name: s for s in stages}
    where = str(spec.source) if spec.source is not None else f"pipeline {spec.name!r}"
    for table in spec.settings:
        if table not in by_name:
            raise ConfigError(f"{where}: table [{table}] is not a known stage; known: {sorted(by_name)}")
    ordered = []
    for name in spec.stages:
        if name not in by_name:
            raise ConfigError(f"pipeline {spec.name!r}: unknown stage {name!r}; known: {sorted(by_name)}")
        st = by_name[name]
        for dep in st.needs:
            if dep not in [s.name for s in ordered]:
                raise ConfigError(f"pipeline {spec.name!r}: stage {name!r} needs {dep!r}, which must run "
                                  f"before it; stages: {list(spec.stages)}")
        ordered.append(st)
    problems = []
    for st in ordered:  # every stage's table, so that one run reports every bad key
        try:
            if st.check is not None:
                st.check(spec)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return ordered


def stage_key(stage: Stage, spec: PipelineSpec, manifest: Manifest) -> tuple[str, dict[str, Any]]:
    """The cache key of ``stage`` and the ingredients it was computed from (stored in the manifest)."""
    settings = spec.stage_settings(stage.name)
    upstream = {}
    for dep in stage.needs:
        rec = manifest.stage(dep)
        upstream[dep] = rec["output_digest"] if rec and rec.get("status") == "ok" else None
    declared = [Path(p) for p in (stage.inputs(spec, settings) if stage.inputs else [])]
    ingredients = {
        "stage": stage.name,
        "settings": settings,
        "pipeline": {"dataset": spec.dataset, "task": spec.task, "seed": spec.seed},
        "upstream": upstream,
        "inputs": inputs_digest(declared, manifest.hashes),
        "code": {"version": saliency.__version__, **code_fingerprint(stage.run, stage.code)},
    }
    if stage.key_extra is not None:
        ingredients["extra"] = stage.key_extra(spec, settings)
    return hash_settings(ingredients), ingredients


def _why_stale(stage: Stage, key: str, ingredients: Mapping[str, Any], rec: Mapping[str, Any] | None,
               out_dir: Path) -> str | None:
    """None if the cached output is valid, else a short reason."""
    if rec is None:
        return "never run"
    if rec.get("status") != "ok":
        return f"last run {rec.get('status', 'unknown')}"
    if rec.get("key") != key:
        old = rec.get("ingredients", {})
        changed = [k for k in ingredients if old.get(k) != ingredients[k]]
        return "changed: " + (", ".join(changed) if changed else "key")
    if not out_dir.is_dir():
        return "output missing"
    if not listing_matches(out_dir, rec.get("files", {})):
        return "output modified"
    return None


def run_pipeline(spec: PipelineSpec, stages: Sequence[Stage], *, only: Iterable[str] = (),
                 force: Iterable[str] = (), dry_run: bool = False,
                 log: Callable[[str], None] = lambda _msg: None, show_progress: bool = False) -> RunReport:
    """Run (or plan, with ``dry_run``) the pipeline; returns what happened to every stage.

    only: run just these stages, unconditionally (their upstream stages must be up to date).
    force: run these stages even if cached (downstream stages re-run only if the output changed).
    show_progress: let long stages draw progress bars (the CLI sets it unless ``--json``).
    A failed stage is recorded in the manifest with its error; the stages after it are skipped and
    the error is re-raised after the manifest is saved (library errors keep their type).
    """
    ordered = check_stages(stages, spec)
    names = [s.name for s in ordered]
    only, force = list(only), set(force)
    for n in [*only, *force]:
        if n not in names:
            raise ConfigError(f"pipeline {spec.name!r}: no stage {n!r}; stages: {names}")
    spec.out.mkdir(parents=True, exist_ok=True)
    # one run per folder: a second `saliency run` would delete this one's .<stage>.tmp folders
    with contextlib.nullcontext() if dry_run else folder_lock(spec.out, "the pipeline run folder"):
        return _run_stages(spec, ordered, only, force, dry_run, log, show_progress)


def _run_stages(spec: PipelineSpec, ordered: list[Stage], only: list[str], force: set[str], dry_run: bool,
                log: Callable[[str], None], show_progress: bool) -> RunReport:
    manifest = Manifest(spec.out / MANIFEST_NAME)
    outcomes: list[StageOutcome] = []
    failure: BaseException | None = None
    for stage in ordered:
        final = spec.out / stage.name
        if failure is not None:
            outcomes.append(StageOutcome(stage.name, "skipped", "an earlier stage failed"))
            continue
        if only and stage.name not in only:
            continue
        key, ingredients = stage_key(stage, spec, manifest)
        missing = [d for d, dig in ingredients["upstream"].items() if dig is None]
        if missing:
            if dry_run:
                outcomes.append(StageOutcome(stage.name, "planned", f"after {', '.join(missing)}"))
                continue
            raise ConfigError(f"stage {stage.name!r} needs {missing}, which has no successful output in "
                              f"{spec.out}; run the pipeline without --only first")
        rec = manifest.stage(stage.name)
        reason = _why_stale(stage, key, ingredients, rec, final)
        if stage.name in only:
            reason = "--only"
        elif stage.name in force:
            reason = "--force"
        if reason is None:
            outcomes.append(StageOutcome(stage.name, "cached", "up to date",
                                         summary=dict(rec.get("summary", {})) if rec else {}))
            log(f"[{stage.name}] cached")
            continue
        if dry_run:
            outcomes.append(StageOutcome(stage.name, "planned", reason))
            continue
        log(f"[{stage.name}] running ({reason})")
        tmp = spec.out / f".{stage.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        ctx = StageContext(stage.name, spec, spec.stage_settings(stage.name), tmp,
                           {d: spec.out / d for d in stage.needs}, log=log, show_progress=show_progress)
        t0 = time.perf_counter()
        try:
            stage.run(ctx)
        except BaseException as exc:
            duration = time.perf_counter() - t0
            shutil.rmtree(tmp, ignore_errors=True)
            manifest.set_stage(stage.name, {
                "status": "failed", "key": key, "ingredients": ingredients, "finished": _now(),
                "duration_s": round(duration, 3), "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=20),
            })
            manifest.save()
            outcomes.append(StageOutcome(stage.name, "failed", reason, duration, f"{type(exc).__name__}: {exc}"))
            log(f"[{stage.name}] FAILED after {duration:.1f}s: {exc}")
            failure = exc
            continue
        duration = time.perf_counter() - t0
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        digest, listing = tree_digest(final, manifest.hashes)
        manifest.set_stage(stage.name, {
            "status": "ok", "key": key, "ingredients": ingredients, "output_digest": digest,
            "files": listing, "finished": _now(), "duration_s": round(duration, 3),
            "summary": ctx.summary,
        })
        manifest.save()
        outcomes.append(StageOutcome(stage.name, "ran", reason, duration, summary=dict(ctx.summary)))
        log(f"[{stage.name}] done in {duration:.1f}s")
    report = RunReport(spec.out, outcomes)
    if failure is not None:
        if isinstance(failure, SaliencyError | KeyboardInterrupt):
            raise failure
        raise StageFailed(f"stage {outcomes[[o.status for o in outcomes].index('failed')].name!r} failed: "
                          f"{type(failure).__name__}: {failure} (traceback in {spec.out / MANIFEST_NAME}); "
                          "fix it and re-run that stage with --only", report) from failure
    return report


class StageFailed(SaliencyError):
    """A pipeline stage raised an unexpected exception (the manifest keeps the traceback)."""

    exit_code = 4

    def __init__(self, message: str, report: RunReport | None = None) -> None:
        super().__init__(message)
        self.report = report


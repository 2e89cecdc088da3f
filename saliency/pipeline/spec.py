"""Pipeline files: a TOML description of one dataset's run from recordings to report.

A pipeline file has a ``[pipeline]`` table (name, task, dataset, data_root, out, stages, seed) and one
table per stage (``[ingest]``, ``[maps]``, ``[baselines]``, ``[train]``, ``[evaluate]``, ``[report]``)
holding that stage's settings. A ``[quick]`` table mirrors that layout (``[quick.train]``,
``[quick.pipeline]``, ...) and is deep-merged over the settings when quick mode is on.

Relative paths:
- ``pipeline.data_root`` and ``pipeline.out`` resolve against the *project root*: the nearest
  ancestor of the pipeline file holding ``pyproject.toml`` (else the pipeline file's directory).
  ``data_root`` defaults to ``$SALIENCY_SHARED/datasets`` if that variable is set, else
  ``<project root>/../shared/datasets``.
- dataset paths inside stage tables (keys ending in ``path`` / ``root``, e.g. ``ingest.path``)
  resolve against ``data_root``; a training recipe (``train.recipe``) against the pipeline file.
Overrides (``--set train.epochs=2``) take TOML values (``2``, ``"text"``, ``[1, 2]``) and fall back to
a plain string (:func:`saliency.settings.parse_override`, shared with training recipes). The ``[pipeline]``
table is a strict :class:`PipelineHead`; each stage table is validated by its stage's model
(:mod:`saliency.pipeline.stage_settings`) before any stage runs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saliency.errors import ConfigError
from saliency.io import read_toml
from saliency.names import check_name
from saliency.settings import Settings, TomlList, apply_overrides, validate
from saliency.tasks import TASKS, Task

DEFAULT_STAGES = {
    "fixation": ("ingest", "maps", "baselines", "train", "evaluate", "report"),
    "sod": ("train", "evaluate", "report"),
}


def project_root(start: Path) -> Path:
    """Nearest ancestor of ``start`` (a file or directory) holding ``pyproject.toml``; else ``start``'s dir."""
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    for d in (base, *base.parents):
        if (d / "pyproject.toml").is_file():
            return d
    return base


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in recursively (tables merge, everything else replaces)."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class PipelineHead(Settings):
    """The ``[pipeline]`` table. ``stages`` defaults to the task's (:data:`DEFAULT_STAGES`); ``dataset`` to
    ``name``; ``out`` to ``runs/<name>`` (``-quick`` appended in quick mode)."""

    name: str
    task: Task
    dataset: str | None = None
    data_root: str | None = None
    out: str | None = None
    stages: TomlList[str] | None = None
    seed: int = 0
    description: str = ""


@dataclass(frozen=True)
class PipelineSpec:
    """A resolved pipeline: global settings, per-stage settings, where data comes from and output goes.

    settings: stage name → that stage's settings table (after quick overlay and overrides).
    """

    name: str
    task: str
    dataset: str
    stages: tuple[str, ...]
    settings: Mapping[str, Mapping[str, Any]]
    data_root: Path
    out: Path
    source: Path | None = None
    project: Path = field(default_factory=Path.cwd)
    seed: int = 0
    quick: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"pipeline {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if not self.stages:
            raise ConfigError(f"pipeline {self.name!r}: no stages")
        if len(set(self.stages)) != len(self.stages):
            raise ConfigError(f"pipeline {self.name!r}: a stage is listed twice in {list(self.stages)}")

    def stage_settings(self, stage: str) -> dict[str, Any]:
        return copy.deepcopy(dict(self.settings.get(stage, {})))

    def resolve_data(self, path: str | Path) -> Path:
        """A dataset path: absolute as given, else relative to ``data_root``."""
        p = Path(os.path.expanduser(str(path)))
        return p if p.is_absolute() else (self.data_root / p).resolve()

    def resolve_file(self, path: str | Path) -> Path:
        """A file named in the pipeline (e.g. a training recipe): relative to the pipeline file's folder."""
        p = Path(os.path.expanduser(str(path)))
        if p.is_absolute():
            return p
        base = self.source.parent if self.source is not None else self.project
        return (base / p).resolve()


def load_pipeline(path: str | Path | None = None, *, document: Mapping[str, Any] | None = None,
                  quick: bool = False, overrides: Sequence[str] = (), out: str | Path | None = None,
                  data_root: str | Path | None = None) -> PipelineSpec:
    """Read a pipeline TOML file (or an already-parsed ``document``) into a :class:`PipelineSpec`.

    Order of precedence (last wins): file → ``[quick]`` (if ``quick``) → ``overrides`` → ``out`` /
    ``data_root`` arguments. Raises :class:`ConfigError` naming the file and key on bad input.
    """
    source = Path(path).resolve() if path is not None else None
    if document is None:
        if source is None:
            raise ConfigError("load_pipeline: give a path or a document")
        document = read_toml(source, "pipeline file")
    where = str(source) if source is not None else "<pipeline>"
    doc = copy.deepcopy(dict(document))
    quick_table = doc.pop("quick", {})
    if not isinstance(quick_table, Mapping):
        raise ConfigError(f"{where}: [quick] must be a table")
    if quick:
        doc = deep_merge(doc, quick_table)
    doc = apply_overrides(doc, overrides)

    head_table = doc.pop("pipeline", None)
    if not isinstance(head_table, Mapping):
        raise ConfigError(f"{where}: missing [pipeline] table (name, task, dataset, ...)")
    head = validate(PipelineHead, head_table, prefix="pipeline.", where=where)
    check_name(head.name, f"{where}: [pipeline].name")
    check_name(head.dataset or head.name, f"{where}: [pipeline].dataset")
    task = head.task
    stages = tuple(head.stages if head.stages is not None else DEFAULT_STAGES[task])
    for name, table in doc.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: top-level key {name!r} must be a stage table, got {type(table).__name__}")

    project = project_root(source) if source is not None else Path.cwd().resolve()
    if data_root is not None:
        root = Path(data_root).expanduser()
        root = root if root.is_absolute() else (Path.cwd() / root)
    elif head.data_root is not None:
        root = Path(head.data_root).expanduser()
        root = root if root.is_absolute() else project / root
    elif os.environ.get("SALIENCY_SHARED"):
        root = Path(os.environ["SALIENCY_SHARED"]) / "datasets"
    else:
        root = project.parent / "shared" / "datasets"
    if out is not None:
        out_dir = Path(out).expanduser()
        out_dir = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    else:
        default = f"runs/{head.name}" + ("-quick" if quick else "")
        out_dir = Path(head.out or default).expanduser()
        out_dir = out_dir if out_dir.is_absolute() else project / out_dir
    return PipelineSpec(
        name=head.name, task=task, dataset=head.dataset or head.name, stages=stages,
        settings={k: dict(v) for k, v in doc.items()}, data_root=root.resolve(), out=out_dir.resolve(),
        source=source, project=project, seed=head.seed, quick=quick,
    )

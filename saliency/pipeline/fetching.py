"""``saliency run --fetch``: when a pipeline's dataset folder is missing, fetch it from the catalogue first.

The folder a pipeline reads is its ingest stage's ``path`` (read by ``reader``), or, for salient-object
pipelines, the train stage's ``path`` (an images/ + masks/ folder, reader ``sod``). When it does not exist,
:func:`ensure_dataset` looks the pipeline's ``dataset`` up in the catalogue, checks that the catalogue's
download is read by the same reader, fetches it (verified; into ``$SALIENCY_DATA`` or the user cache dir)
and returns the spec with that stage's ``path`` set to the fetched folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from saliency.errors import ConfigError
from saliency.pipeline.spec import PipelineSpec


def data_stage(spec: PipelineSpec) -> tuple[str, str, str] | None:
    """(stage, path setting, reader) of the stage that reads the dataset folder, or None."""
    if "ingest" in spec.stages:
        s = spec.settings.get("ingest", {})
        return "ingest", str(s.get("path", spec.dataset)), str(s.get("reader", "nus"))
    if spec.task == "sod" and "train" in spec.stages:
        return "train", str(spec.settings.get("train", {}).get("path", spec.dataset)), "sod"
    return None


def ensure_dataset(spec: PipelineSpec, *, allow_unverified: bool = False, catalogue: str | Path | None = None,
                   to: str | Path | None = None, log: Callable[[str], None] = lambda _m: None) -> PipelineSpec:
    """``spec`` unchanged when its dataset folder exists; else fetched and pointed at (module docstring)."""
    found = data_stage(spec)
    if found is None:
        return spec
    stage, path, reader = found
    if spec.resolve_data(path).exists():
        return spec
    from saliency.catalogue import fetch, get_entry, load_catalogue

    entry = get_entry(spec.dataset, load_catalogue(catalogue))
    if entry.reader != reader:
        raise ConfigError(f"{spec.resolve_data(path)} is missing and the catalogue's {entry.name} download is read by "
                          f"{entry.reader!r}, not by this pipeline's {reader!r} reader; see "
                          f"`saliency datasets info {entry.name}`")
    log(f"{spec.resolve_data(path)} is missing: fetching {entry.name} from the catalogue")
    res = fetch(entry, to, allow_unverified=allow_unverified)
    log(f"{entry.name}: {'already in the cache' if res.cached else 'fetched'} → {res.reader_path}")
    settings = {k: dict(v) for k, v in spec.settings.items()}
    settings.setdefault(stage, {})["path"] = str(res.reader_path)
    return dataclasses.replace(spec, settings=settings)

"""Ingest: recordings in any registered format → one validated fixation table + an accounting report.

``ingest("nus", [root], dataset="osie", out=Path("outputs/osie"))`` reads the inputs (file formats in
a process pool, one file per task), applies optional filters (drop the first fixation, duration
limits; counted), attaches the dataset card's metadata (pixels per degree, geometry, σ, licence) and
writes, atomically and byte-identically on re-runs::

    <out>/fixations.parquet     FixationTable.write_parquet (schema: saliency.fixations.table)
    <out>/ingest_report.json    {"dataset", "format", "inputs", "request", "filters", "table",
                                 "accounting": Accounting.to_dict(), "card"}

The report accounts for every input fixation: ``accounting.kept + accounting.dropped == seen``, per
source file and per reason. It holds no timestamps so that re-runs give the same bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from saliency.errors import ConfigError, ReaderError, SaliencyError
from saliency.fixations.accounting import Accounting
from saliency.fixations.filters import drop_first_fixation, filter_duration
from saliency.fixations.selection import FixationSelection, parse_selection
from saliency.fixations.table import DatasetMeta, FixationTable, concat_tables
from saliency.io import read_toml, write_json
from saliency.names import check_name
from saliency.readers import READERS, ReaderSpec
from saliency.readers.quality import QUALITY_SCANNERS, QualityRules, apply_quality_rules, quality_summary
from saliency.readers.request import ReadRequest
from saliency.readers.stimuli import scan_stimuli
from saliency.units import ViewingGeometry

REPORT_VERSION = 1
CARDS_DIR = Path(__file__).resolve().parents[1] / "data"
Progress = Callable[[int, int], None]


# ---- dataset cards ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetCard:
    """A dataset's published facts (``data/<name>.toml``): geometry, σ, coordinate origin, source, licence."""

    name: str
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def format(self) -> str | None:
        return self.raw.get("format")

    @property
    def pixels_per_degree(self) -> float | None:
        v = self.raw.get("viewing", {}).get("pixels_per_degree")
        return float(v) if v is not None else None

    @property
    def coordinate_origin(self) -> int | None:
        return self.raw.get("fixations", {}).get("coordinate_origin")

    @property
    def geometry(self) -> ViewingGeometry | None:
        v = self.raw.get("viewing", {})
        keys = ("screen_width_px", "screen_height_px", "screen_width_cm", "screen_height_cm", "distance_cm")
        if "screen_width_px" not in v or "screen_height_px" not in v:
            return None
        if v.get("distance_cm") is None and self.pixels_per_degree is None:
            return None
        return ViewingGeometry(**{k: v[k] for k in keys if k in v},
                               ppd_override=None if v.get("distance_cm") and v.get("screen_width_cm")
                               else self.pixels_per_degree)


    @property
    def conventions(self) -> dict[str, dict[str, Any]]:
        """``[conventions.<name>]`` tables: ``selection`` (text form) and ``note`` (where it comes from)."""
        return {k: dict(v) for k, v in self.raw.get("conventions", {}).items()}

    def selection(self, convention: str) -> FixationSelection:
        """The fixation selection of one of the card's conventions (e.g. ``benchmark``, ``authors``)."""
        conv = self.conventions
        if convention not in conv:
            raise ConfigError(f"dataset card {self.name!r} has no convention {convention!r}; "
                              f"it states: {', '.join(sorted(conv)) or '(none)'}")
        return parse_selection(conv[convention].get("selection", "all"))


def resolve_selection(spec: str | None, dataset: str | None) -> FixationSelection:
    """``spec`` as a convention name of ``dataset``'s card (``benchmark``, ``authors``), else as the text
    form of :func:`saliency.fixations.selection.parse_selection` (``drop-first``, ``index=1:6``, ...)."""
    if spec is None:
        return FixationSelection()
    card = find_card(dataset) if dataset else None
    if card is not None and spec in card.conventions:
        return card.selection(spec)
    if spec in ("benchmark", "authors"):
        raise ConfigError(f"--select {spec}: no dataset card for {dataset!r} states a {spec!r} convention")
    return parse_selection(spec)


def load_card(name_or_path: str | Path) -> DatasetCard:
    """A card by path, or by dataset name from the repository's ``data/`` folder."""
    p = Path(name_or_path)
    if p.suffix != ".toml":
        p = CARDS_DIR / f"{name_or_path}.toml"
    if not p.is_file():
        known = sorted(q.stem for q in CARDS_DIR.glob("*.toml")) if CARDS_DIR.is_dir() else []
        raise ConfigError(f"dataset card {p} not found; known cards: {', '.join(known) or '(none)'}")
    raw = read_toml(p, "dataset card")
    if "name" not in raw:
        raise ConfigError(f"{p}: dataset card lacks 'name'")
    return DatasetCard(str(raw["name"]), raw)


def find_card(dataset: str) -> DatasetCard | None:
    """The repository's card for ``dataset`` if there is one."""
    return load_card(dataset) if (CARDS_DIR / f"{dataset}.toml").is_file() else None


# ---- inputs ----------------------------------------------------------------------------------
def expand_inputs(spec: ReaderSpec, paths: Sequence[str | Path],
                  ignored: list[dict[str, str]] | None = None) -> list[Path]:
    """Files to read: dataset formats take folders as given; file formats expand folders recursively to the
    files with the format's suffixes whose names the format reads (``spec.ignores``); the others found are
    appended to ``ignored`` as ``{"path", "reason"}``."""
    if not paths:
        raise ConfigError("no input PATH given")
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise ReaderError("input path does not exist", path=p)
        if spec.layout == "dataset" or p.is_file():
            out.append(p)
            continue
        found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in spec.suffixes
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        for f in [f for f in found if spec.ignores(f.name)]:
            found.remove(f)
            if ignored is not None:
                ignored.append({"path": str(f), "reason": str(spec.ignores(f.name))})
        if not found:
            raise ReaderError(f"no {spec.name} files ({', '.join(spec.suffixes)}) in this folder", path=p)
        out.extend(found)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _read_one(spec: ReaderSpec, path: Path, request: ReadRequest) -> tuple[Any, Accounting]:
    """Worker: read one input; errors travel back as plain tuples (their keyword fields survive)."""
    accounting = Accounting()
    try:
        return spec.load()(path, request, accounting), accounting
    except ReaderError as exc:
        return ("ReaderError", exc.reason, exc.path, exc.line, exc.record), accounting
    except SaliencyError as exc:
        return (type(exc).__name__, str(exc), None, None, None), accounting


def _raise_from(err: tuple) -> None:
    import saliency.errors as errors

    kind, message, path, line, record = err
    if kind == "ReaderError":
        raise ReaderError(message, path=path, line=line, record=record)
    raise getattr(errors, kind, SaliencyError)(message)


@dataclass(frozen=True)
class IngestResult:
    """The table, the accounting, the report written beside it and where."""

    table: FixationTable
    accounting: Accounting
    report: dict
    out_dir: Path | None
    elapsed_s: float


def ingest(fmt: str, paths: Sequence[str | Path], *, dataset: str, out: str | Path | None = "auto",
           request: ReadRequest | None = None, card: DatasetCard | str | Path | None = "auto",
           drop_first: int = 0, min_duration_ms: float | None = None, max_duration_ms: float | None = None,
           quality: QualityRules | None = None, workers: int | None = None,
           progress: Progress | None = None) -> IngestResult:
    """Read ``paths`` in format ``fmt`` into one table for ``dataset``; write it under ``out``.

    out: output folder; ``"auto"`` (default) = ``outputs/<dataset>`` under the working directory, None =
    write nothing (the result is still returned).
    request: reader options (its ``dataset`` is replaced by ``dataset``); card: ``"auto"`` uses
    ``data/<dataset>.toml`` when present, None none, or a card / path. The card supplies defaults
    (pixels per degree, geometry, coordinate origin) that explicit request fields override.
    workers: processes for file formats (default: min(files, CPUs)); 1 reads in this process.
    quality: recording-quality exclusion rules (validation error, tracking loss); fields left None fall back
    to the card's ``[quality]`` table. Formats with a quality scanner (EyeLink) get a ``quality`` section
    in the report (per observer and recording block) whether or not a rule is set; excluded blocks' rows
    are dropped and counted like every other drop.
    """
    t_start = time.perf_counter()
    check_name(dataset, "--dataset")
    spec = READERS.get(fmt)
    ignored: list[dict[str, str]] = []
    files = expand_inputs(spec, paths, ignored)
    if card == "auto":
        card = find_card(dataset)
    elif isinstance(card, str | Path):
        card = load_card(card)
    request = request or ReadRequest(dataset)
    updates: dict[str, Any] = {"dataset": dataset}
    if card is not None:
        if request.pixels_per_degree is None and card.pixels_per_degree is not None:
            updates["pixels_per_degree"] = card.pixels_per_degree
        if request.geometry is None and card.geometry is not None:
            updates["geometry"] = card.geometry
        if request.origin is None and card.coordinate_origin is not None and (card.format in (None, fmt)):
            updates["origin"] = int(card.coordinate_origin)
        updates["notes"] = {**dict(request.notes), "card": dict(card.raw)}
    if spec.layout == "files" and request.stimuli_dir is not None and request.stimuli is None:
        updates["stimuli"] = scan_stimuli(request.stimuli_dir)
    request = replace(request, **updates)

    n_workers = workers if workers is not None else min(len(files), os.cpu_count() or 1)
    results: list[tuple[Any, Accounting]] = []
    if n_workers <= 1 or len(files) == 1:
        for i, f in enumerate(files):
            results.append(_read_one(spec, f, request))
            if progress:
                progress(i + 1, len(files))
    else:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(_read_one, spec, f, request) for f in files]
            for i, fut in enumerate(futures):
                results.append(fut.result())
                if progress:
                    progress(i + 1, len(files))

    accounting = Accounting()
    tables: list[FixationTable] = []
    errors: list[tuple] = []
    for f, (res, acc) in zip(files, results, strict=True):
        accounting.merge(acc)
        if isinstance(res, tuple):
            if request.options.on_error != "skip" or res[0] != "ReaderError":
                _raise_from(res)
            errors.append(res)  # a whole file that cannot be read: skipped, listed in the report
            accounting.skipped_file(f, str(ReaderError(res[1], path=res[2], line=res[3], record=res[4])))
            continue
        tables.append(res)
    if not tables:  # nothing readable: an error, never an empty table
        _raise_from(errors[0])
    table = tables[0] if len(tables) == 1 else concat_tables(tables)
    base = table.meta
    table = FixationTable(table.data, DatasetMeta(dataset, base.stimuli, request.geometry or base.geometry,
                                                  request.pixels_per_degree or base.pixels_per_degree,
                                                  base.coordinate_origin, fmt, dict(request.notes)))
    quality_report = None
    if fmt in QUALITY_SCANNERS:
        card_rules = QualityRules.from_card(card.raw if card is not None else None)
        rules = QualityRules(
            quality.max_validation_error_deg if quality and quality.max_validation_error_deg is not None
            else card_rules.max_validation_error_deg,
            quality.max_tracking_loss if quality and quality.max_tracking_loss is not None
            else card_rules.max_tracking_loss)
        trials = [t for f in files for t in QUALITY_SCANNERS[fmt](f, request.extra.get("observer"),
                                                                  request.encoding or "utf-8")]
        table = apply_quality_rules(table, trials, rules, accounting)
        quality_report = quality_summary(trials, rules)
    elif quality is not None and quality.active:
        raise ConfigError(f"quality rules need a recording format with tracker quality data (EyeLink, Tobii); "
                          f"{fmt!r} has none")
    if drop_first:
        table = drop_first_fixation(table, drop_first, accounting=accounting)
    if min_duration_ms is not None or max_duration_ms is not None:
        table = filter_duration(table, min_duration_ms, max_duration_ms, accounting=accounting)

    out_dir = (Path("outputs") / dataset if out == "auto" else Path(out)) if out is not None else None
    embedded: dict[str, Any] | None = None
    if out_dir is not None:
        from saliency.readers.embedded import write_embedded_stimuli

        meta, written = write_embedded_stimuli(table.meta, out_dir / "stimuli", fmt)
        if written:
            table = FixationTable(table.data, meta)
            embedded = {"folder": str(out_dir / "stimuli"), "stimuli": len(written)}
    report = build_report(fmt, files, table, accounting, request,
                          filters={"drop_first": drop_first, "min_duration_ms": min_duration_ms,
                                   "max_duration_ms": max_duration_ms})
    report["ignored_inputs"] = ignored
    report["quality"] = quality_report
    report["embedded_stimuli"] = embedded
    if out_dir is not None:
        table.write_parquet(out_dir / "fixations.parquet")
        write_json(out_dir / "ingest_report.json", report)
    return IngestResult(table, accounting, report, out_dir, time.perf_counter() - t_start)


def build_report(fmt: str, files: Sequence[Path], table: FixationTable, accounting: Accounting,
                 request: ReadRequest, filters: Mapping[str, Any]) -> dict:
    """The JSON report: inputs, options, table summary and the full per-file accounting."""
    data = table.data
    req = {k: v for k, v in asdict(request).items() if k not in ("stimuli", "notes", "geometry", "options")}
    req.update(asdict(request.options))
    req["stimuli_dir"] = str(request.stimuli_dir) if request.stimuli_dir is not None else None
    req["geometry"] = request.geometry.to_dict() if request.geometry is not None else None
    return {
        "report_version": REPORT_VERSION,
        "dataset": table.meta.name,
        "format": fmt,
        "inputs": [str(f) for f in files],
        "request": req,
        "filters": dict(filters),
        "table": {
            "fixations": len(data),
            "stimuli_listed": len(table.meta.stimuli),
            "stimuli_with_fixations": int(data["stimulus"].nunique()),
            "observers": int(data["observer"].nunique()),
            "pixels_per_degree": table.meta.ppd,
            "coordinate_origin": table.meta.coordinate_origin,
        },
        "accounting": accounting.to_dict(),
        "card": dict(request.notes.get("card", {})) or None,
    }

"""Build a shard set from a fixation table: atomic, deterministic, resumable, parallel, splittable.

Each shard (``shard_size`` stimuli in sorted order) is written atomically, then its JSON sidecar (its
manifest rows, its file's SHA-256 and the build fingerprint). A re-run skips every shard whose sidecar
matches the current build and whose file still has the recorded checksum, so a killed run resumes
where it stopped and a corrupt or missing shard is rebuilt alone. ``shard_index``/``shard_count`` split
the shards between job-array tasks (shard ``k`` belongs to task ``k mod shard_count``); whichever task
finds every sidecar present finalises, or run :func:`finalize_shards` (``saliency maps --finalize``).
Finalisation writes ``manifest.parquet`` and then ``meta.json`` (the commit point). Maps are computed on
``workers`` threads (:mod:`saliency.shards.render`); each shard is written as soon as its maps are done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import saliency
from saliency.errors import ConfigError, SchemaError
from saliency.fixations.table import FixationTable
from saliency.io import atomic_path, sha256_file, write_json
from saliency.maps.fusion import SeparableGaussian, single_threaded_blas
from saliency.maps.kernels import mit_fc_to_sigma, mit_fft_size
from saliency.maps.options import MapOptions, resolved_fc
from saliency.maps.scatter import compact_support
from saliency.shards.codec import write_npz, write_parquet_maps
from saliency.shards.render import RenderedMap, map_jobs, render_maps
from saliency.shards.schema import (
    DEFAULT_DTYPE,
    DEFAULT_FORMAT,
    DTYPES,
    FIXATIONS_FILE,
    FORMATS,
    MANIFEST_FILE,
    MANIFEST_SCHEMA,
    MAPS_DIR,
    META_FILE,
    SCHEMA_VERSION,
    STORED_NORMALIZATION,
    shard_file,
    shard_name,
    sidecar_file,
)
from saliency.shards.seal import sealed

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class BuildResult:
    """What a build did: shards written and skipped (verified), and whether it finalised the set."""

    root: Path
    built: list[str]
    skipped: list[str]
    finalized: bool
    missing: list[str] = field(default_factory=list)
    n_maps_built: int = 0


def _fingerprint(base: dict, entries: list[dict]) -> str:
    doc = json.dumps({"base": base, "entries": entries}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def _resolve_image(stimulus: str, table: FixationTable, stimuli_dir: Path | None) -> Path:
    if stimuli_dir is not None:
        return (Path(stimuli_dir) / stimulus).resolve()
    p = table.meta.stimuli[stimulus].path
    if p is None:
        raise ConfigError(f"stimulus {stimulus!r} has no image path in the table metadata; pass --stimuli DIR")
    return Path(p).resolve()


def _sidecar_ok(root: Path, name: str, fingerprint: str, fmt: str) -> dict | None:
    """The sidecar of shard ``name`` if it matches ``fingerprint`` and its file verifies, else None."""
    side = root / sidecar_file(name)
    path = root / shard_file(name, fmt)
    try:
        doc = json.loads(side.read_text())
    except (OSError, ValueError):
        return None
    if doc.get("fingerprint") != fingerprint or doc.get("schema_version") != SCHEMA_VERSION:
        return None
    try:
        if path.stat().st_size != doc.get("bytes") or sha256_file(path) != doc.get("sha256"):
            return None
    except OSError:
        return None
    return doc


def _write_shard(root: Path, shard: dict, maps: list[RenderedMap], fmt: str, build: dict) -> dict:
    """Write one shard file atomically, then its sidecar (its manifest rows, checksum, build fingerprint)."""
    path = root / shard_file(shard["name"], fmt)
    if fmt == "npz":
        write_npz(path, [(r.job.key, r.stored) for r in maps])
    else:
        write_parquet_maps(path, [(r.job.key, r.job.stimulus, r.stored, r.scale) for r in maps])
    doc = {"schema_version": SCHEMA_VERSION, "shard": shard["name"], "fingerprint": shard["fingerprint"],
           "build": build, "format": fmt, "file": shard_file(shard["name"], fmt), "sha256": sha256_file(path),
           "bytes": path.stat().st_size, "rows": [r.row for r in maps]}
    write_json(root / sidecar_file(shard["name"]), doc)
    return doc


def _build(table: FixationTable, root: Path, options: MapOptions, todo: list[dict], sigma_px: float, dtype: str,
           fmt: str, build: dict, workers: int, on_progress: ProgressFn | None) -> dict[str, dict]:
    """Render the maps of the ``todo`` shards on ``workers`` threads and write each shard once complete;
    returns their sidecars by shard name."""
    jobs = map_jobs(table, options, todo)
    blurs = {(h, w): SeparableGaussian(h, w, sigma_px, options.mode, options.truncate,
                                       resolved_fc(options, sigma_px, h, w))
             for h, w in {(j.height, j.width) for j in jobs}}
    sizes = {p["name"]: len(p["entries"]) for p in todo}
    by_name = {p["name"]: p for p in todo}
    pending: list[RenderedMap] = []
    written = {}
    # BLAS only runs for blurs that are not scattered (mit_fft); threadpoolctl costs ≈ 20 ms to set up
    blas = single_threaded_blas() if not all(map(compact_support, blurs.values())) else contextlib.nullcontext()
    with blas:
        for r in render_maps(jobs, blurs, dtype, workers):
            pending.append(r)
            if on_progress is not None:
                on_progress(1)
            if len(pending) == sizes[r.job.shard]:
                written[r.job.shard] = _write_shard(root, by_name[r.job.shard], pending, fmt, build)
                pending = []
    return written


def build_shards(table: FixationTable, out: str | Path, options: MapOptions, *, stimuli_dir: str | Path | None = None,
                 dtype: str = DEFAULT_DTYPE, fmt: str = DEFAULT_FORMAT, shard_size: int = 256, workers: int = 1,
                 shard_index: int = 0, shard_count: int = 1, on_progress: ProgressFn | None = None,
                 on_plan: Callable[[int, int], None] | None = None) -> BuildResult:
    """Build (or resume) the shard set of ``table`` under ``out``; see the module docstring.

    ``on_plan(n_maps_to_build, n_maps_skipped)`` is called once before work starts and
    ``on_progress(k)`` after every ``k`` maps built (for progress bars).
    """
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {fmt!r}")
    if dtype == "uint16" and fmt != "parquet":
        raise ConfigError("dtype uint16 (quantised maps) needs format parquet, which stores each map's scale "
                          "and compresses it; use --format parquet, or --dtype float32 with --format npz")
    if shard_size < 1:
        raise ConfigError(f"shard_size must be ≥ 1, got {shard_size}")
    if not (shard_count >= 1 and 0 <= shard_index < shard_count):
        raise ConfigError(f"need 0 ≤ shard_index < shard_count, got {shard_index} and {shard_count}")
    root = Path(out)
    (root / MAPS_DIR).mkdir(parents=True, exist_ok=True)
    fix_path = root / FIXATIONS_FILE
    table.write_parquet(fix_path)
    fixations_sha = sha256_file(fix_path)

    ppd = table.meta.ppd
    sigma_px = options.sigma_px(ppd)
    base = {"schema_version": SCHEMA_VERSION, "options": options.to_dict(), "sigma_px": sigma_px, "dtype": dtype,
            "format": fmt, "fixations_sha256": fixations_sha, "shard_size": shard_size}
    stimuli = sorted(table.meta.stimuli)
    if not stimuli:
        raise SchemaError("the fixation table lists no stimuli: nothing to build")
    plan = []
    for k in range(0, len(stimuli), shard_size):
        names = stimuli[k:k + shard_size]
        entries = [{"stimulus": s, "height": table.meta.stimuli[s].height_px,
                    "width": table.meta.stimuli[s].width_px,
                    "image_path": str(_resolve_image(s, table, Path(stimuli_dir) if stimuli_dir else None))}
                   for s in names]
        plan.append({"name": shard_name(len(plan)), "entries": entries, "fingerprint": _fingerprint(base, entries)})

    todo, skipped, known = [], [], {}
    for k, p in enumerate(plan):
        if k % shard_count != shard_index:
            continue
        doc = _sidecar_ok(root, p["name"], p["fingerprint"], fmt)
        if doc is not None:
            skipped.append(p["name"])
            known[p["name"]] = doc
        else:
            todo.append(p)
    n_todo = sum(len(p["entries"]) for p in todo)
    if on_plan is not None:
        on_plan(n_todo, sum(len(p["entries"]) for p in plan if p["name"] in skipped))

    known.update(_build(table, root, options, todo, sigma_px, dtype, fmt, base, workers, on_progress))

    result = finalize_shards(root, table=table, options=options, _plan=plan, _base=base, _strict=False,
                             _known=known)
    return BuildResult(root, [t["name"] for t in todo], skipped, result is not None,
                       missing=[] if result is not None else _missing(root, plan, fmt), n_maps_built=n_todo)


def _missing(root: Path, plan: list[dict], fmt: str) -> list[str]:
    return [p["name"] for p in plan if _sidecar_ok(root, p["name"], p["fingerprint"], fmt) is None]


def finalize_shards(root: str | Path, *, table: FixationTable | None = None, options: MapOptions | None = None,
                    _plan: list[dict] | None = None, _base: dict | None = None, _strict: bool = True,
                    _known: dict[str, dict] | None = None) -> dict | None:
    """Assemble ``manifest.parquet`` and ``meta.json`` once every shard's sidecar verifies.

    Called by :func:`build_shards` (returns None while shards built by other tasks are missing), or on
    its own after a split build (``_strict``: raises naming the missing shards). Without ``_plan`` the
    plan is read back from the sidecars and fixations already in ``root``. ``_known``: sidecars this
    build just wrote or verified, by shard name (not hashed again).
    """
    root = Path(root)
    if _plan is None or _base is None:
        _plan, _base, table, options = _plan_from_disk(root)
    assert table is not None and options is not None
    fmt = _base["format"]
    docs = []
    missing = []
    for p in _plan:
        doc = (_known or {}).get(p["name"]) or _sidecar_ok(root, p["name"], p["fingerprint"], fmt)
        if doc is None:
            missing.append(p["name"])
        docs.append(doc)
    if missing:
        if _strict:
            raise SchemaError(f"{root}: shards {missing} are missing or do not verify; build them first "
                              "(saliency maps ... --shard-index I --shard-count N)")
        return None
    rows = [r for d in docs for r in d["rows"]]
    manifest = pa.Table.from_pylist(sorted(rows, key=lambda r: r["stimulus"]), schema=MANIFEST_SCHEMA)
    man_path = root / MANIFEST_FILE
    with atomic_path(man_path) as tmp:
        pq.write_table(manifest, tmp, compression="zstd")
    ppd = table.meta.ppd
    sigma_px = float(_base["sigma_px"])
    meta = {
        "schema_version": SCHEMA_VERSION,
        "software": f"saliency {saliency.__version__}",
        "dataset": table.meta.name,
        "sigma_px": sigma_px,
        "sigma_dva": sigma_px / ppd if ppd else None,
        "pixels_per_degree": ppd,
        "options": options.to_dict(),
        "mit_fc_cycles": sorted({resolved_fc(options, sigma_px, r["height"], r["width"]) for r in rows})
        if options.mode == "mit_fft" else None,
        "mit_sigma_px_effective": sorted({round(mit_fc_to_sigma(resolved_fc(options, sigma_px, r["height"], r["width"]),
                                                               mit_fft_size(r["height"], r["width"])), 6)
                                          for r in rows}) if options.mode == "mit_fft" else None,
        "dtype": _base["dtype"],
        "format": fmt,
        "shard_size": _base["shard_size"],
        "stored_normalization": STORED_NORMALIZATION,
        "n_stimuli": len(rows),
        "fixations_sha256": _base["fixations_sha256"],
        "manifest_sha256": sha256_file(man_path),
        "shards": {d["shard"]: {"file": d["file"], "sha256": d["sha256"], "bytes": d["bytes"],
                                "n_maps": len(d["rows"])} for d in docs},
    }
    _remove_stale(root, {d["file"] for d in docs} | {sidecar_file(d["shard"]) for d in docs})
    meta = sealed({**meta, "sidecar_sha256": {d["shard"]: sha256_file(root / sidecar_file(d["shard"]))
                                              for d in docs}})
    write_json(root / META_FILE, meta)
    return meta


def _remove_stale(root: Path, keep: set[str]) -> None:
    """Delete shard files and sidecars of an earlier, different plan, and temporary files a killed run
    left behind (only names this module writes; called once every shard of the plan verified)."""
    pattern = re.compile(r"^\d{5}\.(npz|parquet|json)$")
    orphan = re.compile(r"^\.\d{5}\.(npz|parquet|json)\..*\.tmp$")
    for p in (root / MAPS_DIR).iterdir():
        if (pattern.match(p.name) and f"{MAPS_DIR}/{p.name}" not in keep) or orphan.match(p.name):
            p.unlink(missing_ok=True)


def _plan_from_disk(root: Path) -> tuple[list[dict], dict, FixationTable, MapOptions]:
    """Rebuild the plan of a split build from its sidecars (for finalising after job-array tasks)."""
    table = FixationTable.read_parquet(root / FIXATIONS_FILE)
    sides = sorted((root / MAPS_DIR).glob("[0-9][0-9][0-9][0-9][0-9].json"))
    if not sides:
        raise SchemaError(f"{root}: no shard sidecars in {MAPS_DIR}/; nothing to finalise")
    docs = [json.loads(p.read_text()) for p in sides]
    spec = docs[0].get("build")
    if spec is None or any(d.get("build") != spec for d in docs):
        raise SchemaError(f"{root}: shard sidecars come from different builds; re-run `saliency maps`")
    options = MapOptions.from_dict(spec["options"])
    n_stimuli = len(table.meta.stimuli)
    n_shards = -(-n_stimuli // spec["shard_size"])
    by_name = {d["shard"]: d for d in docs}
    plan = []
    for k in range(n_shards):
        name = shard_name(k)
        d = by_name.get(name)
        plan.append({"name": name, "fingerprint": d["fingerprint"] if d else "missing"})
    return plan, spec, table, options

"""Build a shard set from a fixation table: atomic, deterministic, resumable, parallel, splittable.

Each shard (``shard_size`` stimuli in sorted order) is written atomically, then its JSON sidecar (its
manifest rows, its file's SHA-256 and the build fingerprint). A re-run skips every shard whose sidecar
matches the current build and whose file still has the recorded checksum, so a killed run resumes
where it stopped and a corrupt or missing shard is rebuilt alone. ``shard_index``/``shard_count`` split
the shards between job-array tasks (shard ``k`` belongs to task ``k mod shard_count``); whichever task
finds every sidecar present finalises, or run :func:`finalize_shards` (``saliency maps --finalize``).
Finalisation writes ``manifest.parquet`` and then ``meta.json`` (the commit point).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import queue
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import saliency
from saliency.errors import ConfigError, ReaderError, SchemaError
from saliency.fixations.table import FixationTable
from saliency.io import atomic_path, sha256_file, write_json
from saliency.maps.fusion import SeparableGaussian, normalize_map, single_threaded_blas
from saliency.maps.kernels import mit_fc_to_sigma, mit_fft_size
from saliency.maps.options import MapOptions, fixation_weights, resolved_fc, select_fixations
from saliency.shards.codec import QuantizedMap, array_sha256, quantize_map, write_npz, write_parquet_maps
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


def _build_one(task: dict, progress_q: Any = None) -> dict:
    """Compute, write and describe one shard (runs in a worker process or inline)."""
    with single_threaded_blas():
        return _build_one_inner(task, progress_q)


def _build_one_inner(task: dict, progress_q: Any) -> dict:
    from PIL import Image

    options = MapOptions.from_dict(task["options"])
    sigma_px, dtype, fmt, root = task["sigma_px"], np.dtype(task["dtype"]), task["format"], Path(task["root"])
    rows: pd.DataFrame = task["rows"]
    groups = {k: g for k, g in rows.groupby("stimulus", sort=False)}
    blurs: dict[tuple[int, int], SeparableGaussian] = {}
    arrays, manifest = [], []
    for i, e in enumerate(task["entries"]):
        stim, h, w, image = e["stimulus"], e["height"], e["width"], Path(e["image_path"])
        try:
            with Image.open(image) as im:
                size = im.size
        except FileNotFoundError as exc:
            raise ReaderError("stimulus image not found (check --stimuli)", path=image) from exc
        except OSError as exc:
            raise ReaderError(f"not a readable image ({exc})", path=image) from exc
        if size != (w, h):
            raise SchemaError(f"{image}: image is {size[0]}×{size[1]} px but the fixation table says {w}×{h}")
        g = groups.get(stim, rows.iloc[:0])
        if (h, w) not in blurs:
            blurs[(h, w)] = SeparableGaussian(h, w, sigma_px, options.mode, options.truncate,
                                              resolved_fc(options, sigma_px, h, w))
        used = select_fixations(g, options)
        raw = blurs[(h, w)].blur(used["x"].to_numpy(), used["y"].to_numpy(), fixation_weights(used, options))
        arr, scale = _stored(raw, dtype)
        key = f"{i:05d}"
        arrays.append((key, stim, arr, scale))
        manifest.append({
            "stimulus": stim, "image_path": str(image), "image_sha256": sha256_file(image), "height": h,
            "width": w, "n_fixations": len(g), "n_observers": int(g["observer"].nunique()),
            "n_fixations_used": len(used), "shard": task["name"], "key": key,
            "map_sha256": array_sha256(arr.q if isinstance(arr, QuantizedMap) else arr),
        })
        if progress_q is not None:
            progress_q.put(1)
    path = root / shard_file(task["name"], fmt)
    if fmt == "npz":
        write_npz(path, [(k, a) for k, _, a, _ in arrays])
    else:
        write_parquet_maps(path, arrays)
    doc = {"schema_version": SCHEMA_VERSION, "shard": task["name"], "fingerprint": task["fingerprint"],
           "build": task["build"],
           "format": fmt, "file": shard_file(task["name"], fmt), "sha256": sha256_file(path),
           "bytes": path.stat().st_size, "rows": manifest}
    write_json(root / sidecar_file(task["name"]), doc)
    return doc


def _stored(raw: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray | QuantizedMap, float]:
    """A freshly blurred map → (what is stored: peak-normalised in ``dtype``; the sum-1 density's peak)."""
    if dtype == np.uint16:
        qm = quantize_map(raw)
        return qm, qm.scale
    raw = np.maximum(raw, 0.0, out=raw)
    total = float(raw.sum(dtype=np.float64))
    scale = float(raw.max(initial=0.0)) / total if total > 0 else 0.0
    return normalize_map(raw, STORED_NORMALIZATION, dtype, inplace=True), scale


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
    data = table.data
    plan = []
    for k in range(0, len(stimuli), shard_size):
        names = stimuli[k:k + shard_size]
        entries = [{"stimulus": s, "height": table.meta.stimuli[s].height_px,
                    "width": table.meta.stimuli[s].width_px,
                    "image_path": str(_resolve_image(s, table, Path(stimuli_dir) if stimuli_dir else None))}
                   for s in names]
        plan.append({"name": shard_name(len(plan)), "entries": entries, "fingerprint": _fingerprint(base, entries)})

    todo, skipped = [], []
    for k, p in enumerate(plan):
        if k % shard_count != shard_index:
            continue
        if _sidecar_ok(root, p["name"], p["fingerprint"], fmt) is not None:
            skipped.append(p["name"])
        else:
            todo.append(p)
    n_todo = sum(len(p["entries"]) for p in todo)
    if on_plan is not None:
        on_plan(n_todo, sum(len(p["entries"]) for p in plan if p["name"] in skipped))

    tasks = []
    for p in todo:
        names = [e["stimulus"] for e in p["entries"]]
        tasks.append({**p, "rows": data[data["stimulus"].isin(names)], "options": options.to_dict(),
                      "sigma_px": sigma_px, "dtype": dtype, "format": fmt, "root": str(root), "build": base})
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            _build_one(t, _Inline(on_progress))
    else:
        _run_pool(tasks, workers, on_progress)

    result = finalize_shards(root, table=table, options=options, _plan=plan, _base=base, _strict=False)
    return BuildResult(root, [t["name"] for t in tasks], skipped, result is not None,
                       missing=[] if result is not None else _missing(root, plan, fmt), n_maps_built=n_todo)


class _Inline:
    def __init__(self, fn: ProgressFn | None) -> None:
        self.fn = fn

    def put(self, k: int) -> None:
        if self.fn is not None:
            self.fn(k)


def _run_pool(tasks: list[dict], workers: int, on_progress: ProgressFn | None) -> None:
    # fork: works from any __main__ (stdin, notebooks); workers only compute and write files
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Manager() as manager:
        q = manager.Queue()
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
            futures = [pool.submit(_build_one, t, q) for t in tasks]
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                _drain(q, on_progress)
                for f in done:
                    f.result()  # re-raise the worker's error (typed errors pickle)
            _drain(q, on_progress)


def _drain(q: Any, on_progress: ProgressFn | None) -> None:
    n = 0
    while True:
        try:
            n += q.get_nowait()
        except queue.Empty:
            break
    if n and on_progress is not None:
        on_progress(n)


def _missing(root: Path, plan: list[dict], fmt: str) -> list[str]:
    return [p["name"] for p in plan if _sidecar_ok(root, p["name"], p["fingerprint"], fmt) is None]


def finalize_shards(root: str | Path, *, table: FixationTable | None = None, options: MapOptions | None = None,
                    _plan: list[dict] | None = None, _base: dict | None = None, _strict: bool = True) -> dict | None:
    """Assemble ``manifest.parquet`` and ``meta.json`` once every shard's sidecar verifies.

    Called by :func:`build_shards` (returns None while shards built by other tasks are missing), or on
    its own after a split build (``_strict``: raises naming the missing shards). Without ``_plan`` the
    plan is read back from the sidecars and fixations already in ``root``.
    """
    root = Path(root)
    if _plan is None or _base is None:
        _plan, _base, table, options = _plan_from_disk(root)
    assert table is not None and options is not None
    fmt = _base["format"]
    docs = []
    missing = []
    for p in _plan:
        doc = _sidecar_ok(root, p["name"], p["fingerprint"], fmt)
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

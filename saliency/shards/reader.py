"""Read a shard set lazily and verifiably: :func:`open_shards` → :class:`ShardSet`.

Nothing is loaded until asked for; each map is checked against its ``map_sha256`` when read (disable
with ``verify=False``), and loading never unpickles. A ShardSet pickles without its open file handles,
so it can be handed to DataLoader worker processes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from saliency.errors import ChecksumError, SchemaError, UnknownNameError
from saliency.fixations.selection import FixationSelection
from saliency.fixations.table import FixationTable
from saliency.io import sha256_file
from saliency.shards.codec import ShardFile
from saliency.shards.schema import (
    FIXATIONS_FILE,
    MANIFEST_COLUMNS,
    MANIFEST_FILE,
    META_FILE,
    READABLE_SCHEMA_VERSIONS,
    sidecar_file,
)
from saliency.shards.seal import REBUILD_HINT, SEAL_KEY, binding_problems, load_manifest, load_meta
from saliency.shards.u16codec import u16_total

OPEN_SHARDS = 8  # shard files a ShardSet keeps open at once
_HANDLES_LOCK = threading.Lock()  # guards every ShardSet's open-file table (held only to look up or open)


@dataclass(frozen=True)
class GroundTruth:
    """One stimulus' ground truth. density: (H, W) float32, sums to 1. fixations: its canonical table rows
    kept by the shard set's fixation selection (the fixations the density was built from)."""

    stimulus: str
    image_path: Path
    height: int
    width: int
    density: np.ndarray
    fixations: pd.DataFrame


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :meth:`ShardSet.verify`: ``problems`` maps a file (or map) to what is wrong with it."""

    root: Path
    checked: int
    problems: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.problems


class ShardSet:
    """A built shard set (see :mod:`saliency.shards.schema` for the layout)."""

    def __init__(self, root: str | Path, *, verify: bool = True) -> None:
        self.root = Path(root)
        self.verify_maps = verify
        meta_path = self.root / META_FILE
        self._meta = load_meta(self.root, META_FILE)  # checks, and its seal (saliency.shards.seal)
        version = self._meta.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            raise SchemaError(f"{meta_path}: schema_version {version!r}, this saliency reads "
                              f"{list(READABLE_SCHEMA_VERSIONS)}; rebuild the set with `saliency maps ... --rebuild`")
        man_path = self.root / MANIFEST_FILE
        manifest = load_manifest(self.root, MANIFEST_FILE, self._meta)
        missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
        if missing:
            raise SchemaError(f"{man_path}: lacks columns {missing}")
        self._manifest = manifest.sort_values("stimulus", kind="stable").reset_index(drop=True)
        self._row = {s: i for i, s in enumerate(self._manifest["stimulus"])}
        self._fixations: FixationTable | None = None
        self._all_fixations: FixationTable | None = None
        self._fix_groups: dict[str, np.ndarray] | None = None
        self._map_records: dict[str, tuple[str, str, str, int, int]] | None = None
        self._handles: dict[str, ShardFile] = {}  # open shard files, least recently used first
        self._handles_pid: int | None = None

    # ---- pickling without open files -----------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"], state["_handles_pid"] = {}, None
        return state

    # ---- what datasets, metrics and baselines read ----------------------------------------------
    @property
    def meta(self) -> dict:
        return dict(self._meta)

    @property
    def manifest(self) -> pd.DataFrame:
        return self._manifest

    @property
    def stimuli(self) -> list[str]:
        return self._manifest["stimulus"].tolist()

    @property
    def selection(self) -> FixationSelection:
        """The fixations the maps were built from (``options.selection`` and ``drop_first`` of meta.json)."""
        from saliency.maps.options import MapOptions

        opts = self._meta.get("options")
        return MapOptions.from_dict(opts).effective_selection if opts else FixationSelection()

    @property
    def all_fixations(self) -> FixationTable:
        """Every row of the stored fixation table, including those the selection leaves out."""
        if self._all_fixations is None:
            path = self.root / FIXATIONS_FILE
            if not path.is_file():
                raise ChecksumError(f"{path}: missing; the shard set is incomplete ({REBUILD_HINT})")
            if self.verify_maps and sha256_file(path) != self._meta["fixations_sha256"]:
                raise ChecksumError(f"{path}: checksum differs from meta.json; the fixation table is corrupt")
            self._all_fixations = FixationTable.read_parquet(path)
        return self._all_fixations

    @property
    def fixations(self) -> FixationTable:
        """The selected fixations (:attr:`selection`): what the maps hold, what baselines and metrics use."""
        if self._fixations is None:
            table, sel = self.all_fixations, self.selection
            self._fixations = table if sel.keeps_all else FixationTable(
                table.data[sel.mask(table.data)].reset_index(drop=True), table.meta)
        return self._fixations

    def __len__(self) -> int:
        return len(self._manifest)

    def __contains__(self, stimulus: object) -> bool:
        return stimulus in self._row

    def _record(self, stimulus: str) -> pd.Series:
        if stimulus not in self._row:
            known = ", ".join(self.stimuli[:5])
            raise UnknownNameError(f"stimulus {stimulus!r} is not in {self.root} ({len(self)} stimuli: {known}, ...)")
        return self._manifest.iloc[self._row[stimulus]]

    def image_path(self, stimulus: str) -> Path:
        return Path(self._record(stimulus)["image_path"])

    def _map_record(self, stimulus: str) -> tuple[str, str, str, int, int]:
        """(shard, key, map_sha256, height, width) of a stimulus, from a table made once (no pandas row
        per map)."""
        if self._map_records is None:
            cols = [self._manifest[c].tolist() for c in ("stimulus", "shard", "key", "map_sha256", "height", "width")]
            self._map_records = {r[0]: (r[1], r[2], r[3], int(r[4]), int(r[5])) for r in zip(*cols, strict=True)}
        rec = self._map_records.get(stimulus)
        if rec is None:
            self._record(stimulus)      # raises UnknownNameError
        return rec

    def stored_map(self, stimulus: str) -> np.ndarray:
        """The map as stored: (H, W) in the stored dtype, peak-normalised (max 1)."""
        shard, key, sha, h, w = self._map_record(stimulus)
        try:
            arr = self._shard(shard).get(key, sha if self.verify_maps else None)
        except ChecksumError as exc:
            raise ChecksumError(f"{exc} (map of {stimulus!r})") from exc
        if arr.shape != (h, w):
            raise ChecksumError(f"{self.root}: map of {stimulus!r} has shape {arr.shape}, manifest says {(h, w)}")
        return arr

    def density(self, stimulus: str) -> np.ndarray:
        """(H, W) float32 probability map, sums to 1."""
        stored, factor = self.density_parts(stimulus)
        m = stored.astype(np.float32)  # a fresh array (npz/parquet decode into new memory)
        m *= factor
        return m

    def density_parts(self, stimulus: str) -> tuple[np.ndarray, np.float32]:
        """(stored map, factor) with :meth:`density` = ``stored.astype(float32) · factor`` (a float32 product,
        pixel by pixel): a quantised (uint16) map can be scored without making the float32 copy
        (:class:`saliency.metrics.fused.QuantizedDensity`). ``factor`` is 1 / the float64 sum of the float32
        values (for uint16 maps the exact integer sum, which that float64 sum equals)."""
        stored = self.stored_map(stimulus)
        if stored.dtype == np.uint16:
            total = np.float64(u16_total(stored))
        else:
            total = stored.astype(np.float32, copy=False).sum(dtype=np.float64)   # no copy of float32 maps
        with np.errstate(divide="ignore"):
            return stored, np.float32(np.float64(1.0) / total)

    def peak_density(self, stimulus: str) -> float | None:
        """The sum-1 density's value at the map's peak as stored with it (Parquet schema 2), else None:
        ``stored_map · peak_density / max(stored_map)`` is the density without renormalisation."""
        rec = self._record(stimulus)
        return self._shard(rec["shard"]).read(rec["key"])[1]

    def fixations_of(self, stimulus: str) -> pd.DataFrame:
        """Canonical table rows of one stimulus that the shard set's selection keeps (:attr:`fixations`)."""
        table = self.fixations
        if self._fix_groups is None:
            self._fix_groups = {k: np.asarray(v) for k, v in table.data.groupby("stimulus").indices.items()}
        idx = self._fix_groups.get(stimulus, np.empty(0, dtype=np.int64))
        return table.data.iloc[idx]

    def load(self, stimulus: str) -> GroundTruth:
        rec = self._record(stimulus)
        return GroundTruth(stimulus, Path(rec["image_path"]), int(rec["height"]), int(rec["width"]),
                           self.density(stimulus), self.fixations_of(stimulus))

    def iter_ground_truth(self, stimuli: Iterable[str] | None = None) -> Iterator[GroundTruth]:
        """Ground truth in shard order (each shard opened once), streaming."""
        for s in self.read_order(self.stimuli if stimuli is None else stimuli):
            yield self.load(s)

    def read_order(self, stimuli: Iterable[str]) -> list[str]:
        """``stimuli`` in shard order (shard, then key): the order :meth:`iter_ground_truth` reads them in.
        An unknown name is an :class:`UnknownNameError`."""
        names = list(stimuli)
        for s in names:
            if s not in self._row:
                self._record(s)         # raises UnknownNameError (no pandas row per known name)
        shard = self._manifest["shard"].to_numpy()
        key = self._manifest["key"].to_numpy()
        return sorted(names, key=lambda s: (shard[self._row[s]], key[self._row[s]]))

    def leave_one_observer_out(self, stimulus: str) -> dict[str, np.ndarray]:
        """Leave-one-observer-out maps (sum 1, float32) built with this set's σ and options."""
        from saliency.maps.fusion import leave_one_observer_out
        from saliency.maps.options import MapOptions, fixation_weights, resolved_fc, select_fixations

        opts = MapOptions.from_dict(self._meta["options"])
        rec = self._record(stimulus)
        rows = select_fixations(self.fixations_of(stimulus), opts)
        h, w, sigma = int(rec["height"]), int(rec["width"]), float(self._meta["sigma_px"])
        return leave_one_observer_out(rows["x"].to_numpy(), rows["y"].to_numpy(), rows["observer"].to_numpy(),
                                      h, w, sigma, weights=fixation_weights(rows, opts), mode=opts.mode,
                                      truncate=opts.truncate, fc_cycles=resolved_fc(opts, sigma, h, w))

    # ---- integrity -------------------------------------------------------------------------------
    def _shard(self, name: str) -> ShardFile:
        """The open shard file ``name``; up to :data:`OPEN_SHARDS` stay open (least recently used closed
        first), so reading maps in random order does not reopen a shard for every map. A forked process
        (DataLoader worker) opens its own. Safe to call from several threads."""
        with _HANDLES_LOCK:
            pid = os.getpid()
            if self._handles_pid != pid:
                self._handles, self._handles_pid = {}, pid   # never close what the parent process opened
            handle = self._handles.pop(name, None)
            if handle is None:
                handle = self._open_shard(name)
            self._handles[name] = handle
            while len(self._handles) > OPEN_SHARDS:   # dropped, not closed: another thread may be reading
                self._handles.pop(next(iter(self._handles)))   # it; it closes with its last reference
            return handle

    def _open_shard(self, name: str) -> ShardFile:
        info = self._meta["shards"].get(name)
        if info is None:
            raise SchemaError(f"{self.root}: manifest names shard {name!r}, which meta.json does not list")
        path = self.root / info["file"]
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise ChecksumError(f"{path}: shard file is missing; re-run `saliency maps` to rebuild it") from exc
        if size != info["bytes"]:
            raise ChecksumError(f"{path}: shard is {size} bytes, meta.json says {info['bytes']}; it is corrupt")
        return ShardFile(path, self._meta["format"])

    def verify(self, *, deep: bool = False) -> VerifyReport:
        """Check every shard file (and fixations) against the recorded SHA-256; ``deep`` also decodes every
        map and checks its ``map_sha256``. Returns the problems by file; never raises for corruption."""
        problems: dict[str, str] = {}
        checked = 0
        fix = self.root / FIXATIONS_FILE
        if not fix.exists():
            problems[FIXATIONS_FILE] = "missing"
        elif sha256_file(fix) != self._meta["fixations_sha256"]:
            problems[FIXATIONS_FILE] = "checksum differs from meta.json"
        for name, info in sorted(self._meta["shards"].items()):
            checked += 1
            path = self.root / info["file"]
            if not path.exists():
                problems[info["file"]] = "missing"
                continue
            if path.stat().st_size != info["bytes"]:
                problems[info["file"]] = f"{path.stat().st_size} bytes, expected {info['bytes']}"
                continue
            if sha256_file(path) != info["sha256"]:
                problems[info["file"]] = "checksum differs from meta.json"
                continue
            if not (self.root / sidecar_file(name)).exists():
                problems[sidecar_file(name)] = "sidecar missing (resume would rebuild this shard)"
        if SEAL_KEY not in self._meta:
            problems[META_FILE] = (f"unsealed: no {SEAL_KEY} (written by an older saliency), so σ, options and "
                                   f"checksums in it cannot be checked; {REBUILD_HINT}")
        problems.update(binding_problems(self.root, self._meta, self._manifest, sidecar_file))
        rows = self._manifest.groupby("shard").size().to_dict()
        for name, n in rows.items():
            if name not in self._meta["shards"]:
                problems[f"manifest shard {name}"] = "not listed in meta.json"
            elif self._meta["shards"][name]["n_maps"] != n:
                problems[self._meta["shards"][name]["file"]] = "manifest and meta.json disagree on its map count"
        if deep:
            bad_files = set(problems)
            for s in self.stimuli:
                rec = self._record(s)
                f = self._meta["shards"].get(rec["shard"], {}).get("file", rec["shard"])
                if f in bad_files:
                    continue
                try:
                    self.stored_map(s)
                except (ChecksumError, SchemaError) as exc:
                    problems[f"{f}:{s}"] = str(exc)
        return VerifyReport(self.root, checked, problems)


def open_shards(root: str | Path, *, verify: bool = True) -> ShardSet:
    """Open the shard set at ``root`` (e.g. ``outputs/osie/shards``); see :class:`ShardSet`."""
    return ShardSet(root, verify=verify)

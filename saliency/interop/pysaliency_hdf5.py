"""pysaliency's HDF5 layouts, written and read with h5py only (pysaliency is never imported).

Layouts (pysaliency 0.2.x, ``pysaliency/datasets.py`` and ``pysaliency/precomputed_models.py``):

* **FileStimuli** (``type`` "FileStimuli", ``version`` "2.1"): dataset ``filenames`` (variable-length UTF-8,
  paths *relative to the HDF5 file's folder*), ``shapes`` (variable-length int64 per stimulus:
  (H, W, 3) for colour, (H, W) for grey), attributes ``size`` (int) and ``__attributes__`` (JSON list of
  extra per-stimulus datasets, here ``[]``). Version "1.0" stores absolute paths; both are read.
* **FixationTrains** (``type`` "FixationTrains", ``version`` "1.2"): ``train_xs``, ``train_ys``,
  ``train_ts`` (n_trains, max_len) float64 padded with NaN; ``train_ns`` (stimulus index) and
  ``train_subjects`` (observer index) int64; ``__attributes__`` '["subjects", "scanpath_index"]' plus
  the scanpath attributes; ``scanpath_attribute_mapping`` (JSON); groups ``scanpath_attributes``
  (per train: here ``trial``) and ``scanpath_fixation_attributes`` (per fixation: here ``durations``),
  each with an ``__attributes__`` JSON list. Times are in **seconds** (pysaliency's convention, e.g. its
  MIT1003 loader): ``train_ts = t_start_ms / 1000``, ``durations = duration_ms / 1000``. Coordinates are
  0-based pixels, the same convention as ours (pysaliency's loaders subtract 1 from MATLAB data).
  The type ``Fixations`` (version "1.0": flat ``x``, ``y``, ``t``, ``n``, ``subjects``) is read too.
* **Saliency map model export** (``export_model_to_hdf5``): one dataset per stimulus named by its
  *minimal unique file name* (the shortest path suffix distinguishing all stimulus files, e.g.
  ``1001.jpg``), float64 (H, W), gzip level 9; log-densities for a probabilistic model.

Our extras (ignored by pysaliency) are group attributes prefixed ``saliency_``: observer names, stimulus
names, the dataset metadata JSON, so our own round trip is lossless for the canonical columns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from saliency.errors import SchemaError
from saliency.fixations.table import DatasetMeta, FixationTable
from saliency.io import atomic_path


def _s(value: str) -> np.bytes_:
    """pysaliency writes attributes as ``np.string_`` (fixed-length bytes); so do we."""
    return np.bytes_(value.encode("utf-8"))


def _decode(value: object) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    return str(value)


def minimal_unique_filenames(paths: Sequence[str | Path]) -> list[str]:
    """pysaliency's ``get_minimal_unique_filenames``: drop leading path parts shared by all files."""
    if len(paths) <= 1:
        return [os.path.basename(str(p)) for p in paths]
    parts = [Path(os.path.normpath(str(p))).parts for p in paths]
    while len({p[0] for p in parts}) <= 1 and all(len(p) > 1 for p in parts):
        parts = [p[1:] for p in parts]
    return [os.path.join(*p) for p in parts]


# ------------------------------------------------------------------------------------------ stimuli
def write_stimuli_hdf5(image_paths: Sequence[str | Path], shapes: Sequence[Sequence[int]], target: str | Path) -> Path:
    """FileStimuli v2.1: file names relative to ``target``'s folder, shapes (H, W[, C]) per stimulus."""
    import h5py

    target = Path(target)
    if len(image_paths) != len(shapes):
        raise SchemaError(f"{len(image_paths)} stimuli but {len(shapes)} shapes")
    rel = [os.path.relpath(Path(p).resolve(), target.resolve().parent) for p in image_paths]
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["type"] = _s("FileStimuli")
        f.attrs["version"] = _s("2.1")
        f.create_dataset("filenames", data=np.array([r.encode("utf-8") for r in rel], dtype=object),
                         dtype=h5py.special_dtype(vlen=str))
        ds = f.create_dataset("shapes", (len(shapes),), dtype=h5py.special_dtype(vlen=np.dtype("int64")))
        for i, shp in enumerate(shapes):
            ds[i] = np.asarray(shp, dtype=np.int64)
        f.attrs["__attributes__"] = _s("[]")
        f.attrs["size"] = len(rel)
    return target


def read_stimuli_hdf5(source: str | Path) -> tuple[list[Path], list[tuple[int, ...]]]:
    """(image paths, shapes) of a pysaliency ``FileStimuli`` HDF5 file (versions 1.0, 2.0, 2.1)."""
    import h5py

    source = Path(source)
    with h5py.File(source, "r") as f:
        kind, version = _decode(f.attrs.get("type", b"")), _decode(f.attrs.get("version", b""))
        if kind != "FileStimuli":
            raise SchemaError(f"{source}: HDF5 type {kind!r}, expected 'FileStimuli'")
        if version not in ("1.0", "2.0", "2.1"):
            raise SchemaError(f"{source}: FileStimuli version {version!r}, expected 1.0, 2.0 or 2.1")
        names = [_decode(n) for n in f["filenames"][...]]
        shapes = [tuple(int(v) for v in s) for s in f["shapes"][...]]
    base = source.resolve().parent
    paths = [Path(n) if version == "1.0" else (base / n) for n in names]
    return [Path(os.path.normpath(p)) for p in paths], shapes


# ---------------------------------------------------------------------------------------- fixations
def write_fixations_hdf5(table: FixationTable, target: str | Path, *, stimuli: Sequence[str] | None = None) -> Path:
    """The table as pysaliency ``FixationTrains`` v1.2: one train per (stimulus, observer, trial).

    stimuli: stimulus order defining ``train_ns`` (default: sorted names of ``table.meta.stimuli``);
    write the matching :func:`write_stimuli_hdf5` with the same order.
    """
    import h5py

    target = Path(target)
    order = list(stimuli) if stimuli is not None else sorted(table.meta.stimuli)
    pos = {s: i for i, s in enumerate(order)}
    df = table.data
    missing = sorted(set(df["stimulus"]) - set(pos))
    if missing:
        raise SchemaError(f"fixations on stimuli not in the stimulus order: {missing[:5]}")
    observers = sorted(df["observer"].unique())
    opos = {o: i for i, o in enumerate(observers)}
    df = df.sort_values(["stimulus", "observer", "trial", "index"], kind="mergesort")
    df = df.assign(_n=df["stimulus"].map(pos)).sort_values(["_n", "observer", "trial", "index"], kind="mergesort")
    keys = df[["_n", "observer", "trial"]].to_numpy()
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)]) if len(df) else np.array([], int)
    ends = np.r_[starts[1:], len(df)].astype(int)
    n_trains = len(starts)
    max_len = int((ends - starts).max()) if n_trains else 1
    pos_in = np.arange(len(df)) - np.repeat(starts, ends - starts)
    row = np.repeat(np.arange(n_trains), ends - starts)

    def grid(values: np.ndarray) -> np.ndarray:
        out = np.full((n_trains, max_len), np.nan)
        out[row, pos_in] = values
        return out

    xs, ys = grid(df["x"].to_numpy(float)), grid(df["y"].to_numpy(float))
    ts = grid(df["t_start_ms"].to_numpy(float) / 1000.0)
    durs = grid(df["duration_ms"].to_numpy(float) / 1000.0)
    first = df.iloc[starts] if n_trains else df
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["type"] = _s("FixationTrains")
        f.attrs["version"] = _s("1.2")
        f.create_dataset("train_xs", data=xs)
        f.create_dataset("train_ys", data=ys)
        f.create_dataset("train_ts", data=ts)
        f.create_dataset("train_ns", data=first["_n"].to_numpy(np.int64))
        f.create_dataset("train_subjects", data=first["observer"].map(opos).to_numpy(np.int64))
        f.attrs["__attributes__"] = _s(json.dumps(["subjects", "scanpath_index"]))
        f.attrs["scanpath_attribute_mapping"] = _s(json.dumps({"durations": "duration"}))
        g = f.create_group("scanpath_attributes")
        g.create_dataset("trial", data=first["trial"].to_numpy(np.int64))
        g.attrs["__attributes__"] = _s(json.dumps(["trial"]))
        g = f.create_group("scanpath_fixation_attributes")
        g.create_dataset("durations", data=durs)
        g.attrs["__attributes__"] = _s(json.dumps(["durations"]))
        f.attrs["saliency_observers"] = _s(json.dumps(observers))
        f.attrs["saliency_stimuli"] = _s(json.dumps(order))
        f.attrs["saliency_eyes"] = _s(json.dumps(list(first["eye"]) if n_trains else []))
        f.attrs["saliency_meta"] = _s(table.meta.to_json())
    return target


def read_fixations_hdf5(source: str | Path, *, stimuli: Sequence[str] | None = None,
                        meta: DatasetMeta | None = None, dataset: str | None = None) -> pd.DataFrame | FixationTable:
    """Read pysaliency ``FixationTrains`` (1.0–1.2) or ``Fixations`` (1.0) into canonical columns.

    Stimulus names come from ``stimuli`` (the stimulus order, e.g. file names of the FileStimuli), else
    from our ``saliency_stimuli`` attribute, else ``"<n>"``. Observer names likewise from
    ``saliency_observers`` else the subject number. Returns a :class:`FixationTable` when the metadata
    is known (``meta`` or our ``saliency_meta`` attribute), else a frame of the canonical columns.
    """
    import h5py

    source = Path(source)
    with h5py.File(source, "r") as f:
        kind, version = _decode(f.attrs.get("type", b"")), _decode(f.attrs.get("version", b""))
        extra = {k: json.loads(_decode(f.attrs[k])) for k in ("saliency_observers", "saliency_stimuli", "saliency_eyes")
                 if k in f.attrs}
        meta_json = _decode(f.attrs["saliency_meta"]) if "saliency_meta" in f.attrs else None
        if kind == "FixationTrains":
            if version not in ("1.0", "1.1", "1.2"):
                raise SchemaError(f"{source}: FixationTrains version {version!r}, expected 1.0–1.2")
            xs, ys, ts = (f[k][...].astype(float) for k in ("train_xs", "train_ys", "train_ts"))
            ns, subj = f["train_ns"][...].astype(int), f["train_subjects"][...]
            trial = (f["scanpath_attributes"]["trial"][...].astype(int)
                     if "scanpath_attributes" in f and "trial" in f["scanpath_attributes"] else np.zeros(len(ns), int))
            sfa = f["scanpath_fixation_attributes"] if "scanpath_fixation_attributes" in f else {}
            durs = sfa["durations"][...].astype(float) if "durations" in sfa else np.full(xs.shape, np.nan)
            valid = ~np.isnan(xs)
            r, c = np.nonzero(valid)
            frame = pd.DataFrame({
                "_n": ns[r], "_subject": subj[r], "trial": trial[r], "index": c,
                "x": xs[r, c], "y": ys[r, c], "t_start_ms": ts[r, c] * 1000.0, "duration_ms": durs[r, c] * 1000.0,
                "eye": np.asarray(extra.get("saliency_eyes") or ["unknown"] * len(ns), dtype=object)[r]
                if len(ns) else np.array([], dtype=object),
                "source": [f"{source.name}[train {i}]" for i in r],
            })
        elif kind == "Fixations":
            x, y, t = (f[k][...].astype(float) for k in ("x", "y", "t"))
            frame = pd.DataFrame({"_n": f["n"][...].astype(int), "_subject": f["subjects"][...], "trial": 0,
                                  "index": np.zeros(len(x), int), "x": x, "y": y, "t_start_ms": t * 1000.0,
                                  "duration_ms": np.nan, "eye": "unknown",
                                  "source": [f"{source.name}[{i}]" for i in range(len(x))]})
            frame["index"] = frame.groupby(["_n", "_subject"]).cumcount()
        else:
            raise SchemaError(f"{source}: HDF5 type {kind!r}, expected 'FixationTrains' or 'Fixations'")
    order = list(stimuli) if stimuli is not None else extra.get("saliency_stimuli")
    if order is not None and len(frame) and frame["_n"].max() >= len(order):
        raise SchemaError(f"{source}: stimulus index {frame['_n'].max()} but only {len(order)} stimuli given")
    names = (lambda n: order[n]) if order is not None else str
    observers = extra.get("saliency_observers")
    meta = meta or (DatasetMeta.from_json(meta_json) if meta_json else None)
    frame["stimulus"] = [names(int(n)) for n in frame["_n"]]
    frame["observer"] = [observers[int(s)] if observers else str(s) for s in frame["_subject"]]
    frame["dataset"] = meta.name if meta is not None else (dataset or source.stem)
    frame = frame.drop(columns=["_n", "_subject"])
    if meta is not None:
        return FixationTable.from_frame(frame, meta)
    from saliency.fixations.table import coerce_frame

    return coerce_frame(frame)


# -------------------------------------------------------------------------------------- predictions
def write_predictions_hdf5(maps: Mapping[str, np.ndarray] | Iterator[tuple[str, np.ndarray]],
                           target: str | Path, *, compression: int = 9) -> Path:
    """One float64 dataset per stimulus, keyed like ``export_model_to_hdf5`` (pass minimal unique file
    names as keys: :func:`minimal_unique_filenames`); gzip level ``compression``."""
    import h5py

    items = maps.items() if isinstance(maps, Mapping) else maps
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as f:
        for key, m in items:
            f.create_dataset(str(key), data=np.asarray(m, dtype=np.float64), compression=compression)
    return Path(target)


def read_predictions_hdf5(source: str | Path) -> dict[str, np.ndarray]:
    """Every dataset of a prediction file (nested groups give ``a/b.jpg`` keys), as float arrays."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(source, "r") as f:
        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[...]
        f.visititems(visit)
    return out

"""FixaTons layout (Zanca et al. 2018), as used for MIT1003: one text file per stimulus and observer.

Layout::

    <root>/STIMULI/<name>.jpeg            # the images (any common image suffix)
    <root>/SCANPATHS/<name>/<observer>    # one fixation per line: ``x y t_start t_end``

``x`` is the column, ``y`` the row, in image pixels; ``t_start``/``t_end`` are seconds from stimulus
onset. Blank lines are ignored; each line must hold exactly four numbers.

Coordinate origin (``origin``, default 1): MIT1003's fixations come from the MATLAB toolbox of Judd et
al. (``checkFixations`` on 1-based image coordinates) and FixaTons stores them unchanged as integers.
Inspecting all 119,432 MIT1003 fixations: ``y == height`` occurs 8 times (valid only 1-based),
``x == 0`` once and ``y == 0`` never (0 is valid only 0-based), and pysaliency's MIT1003 loader
subtracts 1 from the same MATLAB data. We therefore convert with **x0 = x − 1, y0 = y − 1** (MATLAB
pixel k → our pixel k − 1 covering [k − 1, k)). Pass ``origin=0`` for FixaTons sets that are 0-based.

Time: ``t_start_ms = 1000·t_start``, ``duration_ms = 1000·(t_end − t_start)``; ``t_end < t_start`` is a
bad record (negative duration). Observers are the file names; ``trial`` is 0; ``index`` the 0-based line
order. ``source`` is ``<file>:<line>`` (1-based line numbers).

Files are read and parsed in a thread pool (``workers``); the parse per file is one vectorised
``numpy`` conversion with a per-line fallback only when a file is malformed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    NEGATIVE_DURATION,
    NON_FINITE,
    NON_FINITE_DURATION,
    TRUNCATED,
    Accounting,
    duration_masks,
)
from saliency.fixations.table import DatasetMeta, FixationTable, empty_frame
from saliency.readers.base import ReadOptions, finalize
from saliency.readers.request import ReadRequest
from saliency.readers.stimuli import list_images, scan_stimuli
from saliency.readers.text import read_text
from saliency.units import ViewingGeometry


def origin_text(origin: int) -> str:
    if origin == 1:
        return "0-based pixel corners (converted from 1-based: x0 = x - 1, y0 = y - 1)"
    return "0-based pixel corners (source already 0-based)"


@dataclass
class _Parsed:
    """One scanpath file, parsed: rows kept (still in source coordinates) and drops."""

    x: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    line: np.ndarray
    accounting: Accounting


def parse_scanpath(path: Path, text: str, options: ReadOptions) -> _Parsed:
    """Parse the text of one ``x y t_start t_end`` file (blank lines skipped), counting drops."""
    acc = Accounting()
    lines = text.splitlines()
    numbered = [(i, ln.split()) for i, ln in enumerate(lines, start=1) if ln.strip()]
    if numbered and numbered[-1][0] == len(lines) and not text.endswith(("\n", "\r")):
        # the last line has no line end: the file may be cut inside a number (a changed value)
        i = numbered.pop()[0]
        acc.bad_record(ReaderError(f"last line {lines[i - 1].strip()!r} has no line end: a truncated file? "
                                   "(complete files end with a newline)", path=path, line=i), options, TRUNCATED)
    good_lines: list[int] = []
    rows: list[list[str]] = []
    try:
        if any(len(p) != 4 for _, p in numbered):
            raise ValueError
        values = np.array([p for _, p in numbered], dtype=np.float64).reshape(-1, 4)
        good = np.array([i for i, _ in numbered], dtype=np.int64)
    except ValueError:  # slow path: find the bad lines
        for i, p in numbered:
            try:
                if len(p) != 4:
                    raise ValueError(f"{len(p)} fields")
                [float(v) for v in p]
            except ValueError:
                acc.bad_record(ReaderError(f"expected four numbers 'x y t_start t_end', got {lines[i - 1].strip()!r}",
                                           path=path, line=i), options)
                continue
            good_lines.append(i)
            rows.append(p)
        values = np.array(rows, dtype=np.float64).reshape(-1, 4)
        good = np.array(good_lines, dtype=np.int64)
    x, y, t0, t1 = values.T
    neg, nonfinite = duration_masks((t1 - t0) * 1000.0, nan_ok=False)
    for mask, reason, what in ((nonfinite, NON_FINITE_DURATION, "expected finite times"),
                               (neg, NEGATIVE_DURATION, "expected a duration ≥ 0")):
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            exc = ReaderError(f"t_start {t0[first]:g} s, t_end {t1[first]:g} s; {what}",
                              path=path, line=int(good[first]))
            if options.on_error == "raise":
                raise exc
            acc.dropped(path, reason, int(mask.sum()), example=f"line {exc.line}: {exc.reason}")
    neg |= nonfinite
    bad = ~(np.isfinite(x) & np.isfinite(y)) & ~neg
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        acc.dropped(path, NON_FINITE, int(bad.sum()), example=f"line {int(good[first])}: x={x[first]}, y={y[first]}")
    ok = ~(neg | bad)
    return _Parsed(x[ok], y[ok], t0[ok], t1[ok], good[ok], acc)


def _read_stimulus_dir(directory: Path, options: ReadOptions, encoding: str) -> list[tuple[str, _Parsed]]:
    out = []
    for f in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        text, _ = read_text(f, encoding)
        out.append((f.name, parse_scanpath(f, text, options)))
    return out


def fixatons_frame(root: str | Path, options: ReadOptions, accounting: Accounting, *,
                   stimulus_names: dict[str, str], dataset: str = "mit1003", origin: int = 1,
                   workers: int = 8, encoding: str = "utf-8") -> pd.DataFrame:
    """Rows of every ``SCANPATHS/<stimulus>/<observer>`` file under ``root`` (0-based stimulus pixels).

    ``stimulus_names`` maps a scanpath folder name (the image stem) to the table's stimulus key
    (the image file name); a folder without an image keeps its own name (then an unknown stimulus).
    """
    if origin not in (0, 1):
        raise ConfigError(f"origin must be 0 or 1, got {origin!r}")
    scan_root = Path(root) / "SCANPATHS"
    if not scan_root.is_dir():
        raise ReaderError("no SCANPATHS folder; expected the FixaTons layout SCANPATHS/<stimulus>/<observer>",
                          path=scan_root)
    dirs = sorted(p for p in scan_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda d: _read_stimulus_dir(d, options, encoding), dirs))

    parts: dict[str, list] = {k: [] for k in ("stimulus", "observer", "index", "x", "y", "t0", "t1", "src")}
    for d, files in zip(dirs, results, strict=True):
        stim = stimulus_names.get(d.name, d.name)
        for observer, p in files:
            accounting.merge(p.accounting)
            n = len(p.x)
            if n == 0:
                continue
            parts["stimulus"].append(np.full(n, stim, dtype=object))
            parts["observer"].append(np.full(n, observer, dtype=object))
            parts["index"].append(np.arange(n, dtype=np.int32))
            for k in ("x", "y", "t0", "t1"):
                parts[k].append(getattr(p, k))
            prefix = f"{d / observer}:"
            parts["src"].append(np.char.add(prefix, p.line.astype(str)).astype(object))
    if not parts["x"]:
        return empty_frame()
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    n = len(cat["x"])
    return pd.DataFrame({
        "dataset": np.full(n, dataset, dtype=object),
        "stimulus": cat["stimulus"],
        "observer": cat["observer"],
        "trial": np.zeros(n, dtype=np.int32),
        "index": cat["index"],
        "x": cat["x"] - origin,
        "y": cat["y"] - origin,
        "t_start_ms": cat["t0"] * 1000.0,
        "duration_ms": (cat["t1"] - cat["t0"]) * 1000.0,
        "eye": np.full(n, "unknown", dtype=object),
        "source": cat["src"],
    })


def read_fixatons(root: str | Path, options: ReadOptions | None = None, accounting: Accounting | None = None, *,
                  dataset: str = "mit1003", origin: int = 1, stimuli_dir: str | Path | None = None,
                  pixels_per_degree: float | None = None, geometry: ViewingGeometry | None = None,
                  workers: int = 8, encoding: str = "utf-8", notes: dict | None = None) -> FixationTable:
    """Read a FixaTons dataset folder (``STIMULI/`` + ``SCANPATHS/``) into a validated table.

    Stimulus sizes come from the image headers in ``stimuli_dir`` (default ``<root>/STIMULI``).
    ``origin`` is the source's coordinate origin (1 for MIT1003, see the module docstring).
    """
    options = options or ReadOptions()
    accounting = accounting if accounting is not None else Accounting()
    root = Path(root)
    stim_dir = Path(stimuli_dir) if stimuli_dir is not None else root / "STIMULI"
    stimuli = scan_stimuli(stim_dir, workers=workers)
    by_stem = {p.stem: p.name for p in list_images(stim_dir)}
    frame = fixatons_frame(root, options, accounting, stimulus_names=by_stem, dataset=dataset, origin=origin,
                           workers=workers, encoding=encoding)
    meta = DatasetMeta(dataset, stimuli, geometry, pixels_per_degree, origin_text(origin), "fixatons",
                       dict(notes or {}))
    return finalize(frame, meta, options, accounting)


def read_fixatons_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Registry entry point (``saliency ingest fixatons ROOT``); ``request.origin`` defaults to 1."""
    return read_fixatons(path, request.options, accounting, dataset=request.dataset,
                         origin=1 if request.origin is None else request.origin, stimuli_dir=request.stimuli_dir,
                         pixels_per_degree=request.pixels_per_degree, geometry=request.geometry,
                         workers=max(request.workers, 4), encoding=request.encoding, notes=dict(request.notes))

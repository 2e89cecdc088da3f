"""DOVES (van der Linde, Rajashekar, Bovik & Cormack, 2009) per-image ``.mat`` files → fixations.

Public API::

    read_doves(path, *, options=ReadOptions(), accounting=None, fixations="authors", geometry=None,
               detection=None, dataset="doves") -> DovesImage

One file per image (``img001.mat`` …) holds ``picture`` (768×1024 grey, float), ``subj_names_list``
(1×29 observer file names, ``ABT2.eye`` → observer ``ABT2``), ``eye_data`` (1×29 cells of 2×N raw gaze
samples, x row then y row, image pixels, 200 Hz) and ``fix_data`` (1×29 cells of 3×K: x, y and duration
in samples of the authors' own fixation detection).

Conventions
-----------
* Coordinates are MATLAB 1-based pixel coordinates with the origin at the top-left corner and y
  growing downwards (the image's row axis): converted at the boundary, ``x0 = x1 − 1``, ``y0 = y1 − 1``.
  (The data cannot pin the half pixel: first-fixation means are within noise of the image centre.)
* Pixels per degree: 60 (the DOVES images, 1024×768 px, spanned 17°×13° at about 1 px per arc-minute),
  exposed as :data:`DOVES_PPD` / :data:`DOVES_GEOMETRY`.
* ``fixations="authors"``: ``fix_data`` rows; ``duration_ms`` = samples × 5 ms; ``t_start_ms`` is NaN
  (the files do not store onsets). ``fixations="ivt"``/``"idt"``: :mod:`saliency.fixations.detect` run
  on each observer's ``eye_data`` trace (sample k at k × 5 ms after stimulus onset) with ``geometry``
  (default :data:`DOVES_GEOMETRY`) and ``detection`` keyword overrides.
* ``source`` = ``file[observer=<name>,fixation=<k>]`` (authors) or ``file[observer=<name>,sample=<k>]``
  (detected: the first sample of the fixation).
* Non-finite coordinates or negative durations in ``fix_data`` raise :class:`ReaderError` (or are dropped
  and counted under ``on_error="skip"``). A non-finite (NaN) *duration* with finite coordinates is a record
  the authors' own fixation detection left in the shipped files: it is always dropped and counted under
  ``"non-finite duration"`` (:data:`NON_FINITE_DURATION`), whatever ``on_error``.
* The shipped ``+images/`` folder also holds ``fixationDatabase.mat`` (all images' fixations in one
  file); ingest reads only ``imgNNN.mat`` (:data:`DOVES_FILE_PATTERN`) and reports the rest as ignored.
* The stimulus lives inside the file (``picture``): :func:`read_doves_picture` gives it as 8-bit grey, and
  ``saliency ingest`` writes it out once as ``<out>/stimuli/imgNNN.png`` so that maps, show, baselines and
  training find an ordinary image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    NEGATIVE_DURATION,
    NON_FINITE,
    NON_FINITE_DURATION,
    Accounting,
    duration_masks,
)
from saliency.fixations.table import (
    COLUMNS,
    DatasetMeta,
    FixationTable,
    StimulusInfo,
    coerce_frame,
    empty_frame,
)
from saliency.readers.base import ReadOptions, finalize
from saliency.readers.matfile import load_mat
from saliency.units import ViewingGeometry

DOVES_RATE_HZ = 200.0
DOVES_PPD = 60.0
DOVES_GEOMETRY = ViewingGeometry(1024, 768, ppd_override=DOVES_PPD)
DOVES_FILE_PATTERN = r"img\d+\.mat"


def read_doves_picture(path: str | Path) -> np.ndarray:
    """(768, 1024) uint8 grey: the ``picture`` stored in a DOVES ``imgNNN.mat`` (0–255 floats, rounded)."""
    m = load_mat(path, "a DOVES imgNNN.mat", variable_names=["picture"])
    picture = np.asarray(m.get("picture"))
    if picture.ndim != 2 or not np.issubdtype(picture.dtype, np.number):
        raise ReaderError(f"'picture' has shape {picture.shape}: expected a 2-D grey image", path=path)
    return np.clip(np.rint(picture.astype(np.float64)), 0, 255).astype(np.uint8)


@dataclass
class DovesImage:
    """One DOVES image: fixations (canonical columns, 0-based image px), the picture, and raw traces.

    picture: (768, 1024) float64 grey; traces: observer → (2, N) float64 0-based px (x row, y row).
    """

    path: Path
    stimulus: str
    picture: np.ndarray
    fixations: pd.DataFrame
    traces: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def height_px(self) -> int:
        return int(self.picture.shape[0])

    @property
    def width_px(self) -> int:
        return int(self.picture.shape[1])

    def meta(self, dataset: str = "doves") -> DatasetMeta:
        return DatasetMeta(dataset, {self.stimulus: StimulusInfo(self.stimulus, self.width_px, self.height_px,
                                                                 str(self.path))},
                           pixels_per_degree=DOVES_PPD, coordinate_origin="0-based pixel corners (from 1-based)",
                           source_format="doves-mat")

    def to_table(self, options: ReadOptions, accounting: Accounting, dataset: str = "doves") -> FixationTable:
        return finalize(self.fixations, self.meta(dataset), options, accounting)


def _cells(m: dict, key: str, path: Path) -> list:
    if key not in m:
        raise ReaderError(f"no variable {key!r}: expected a DOVES image file (picture, eye_data, fix_data, "
                          "subj_names_list)", path=path)
    return list(np.asarray(m[key], dtype=object).ravel())


def read_doves(path: str | Path, *, options: ReadOptions | None = None, accounting: Accounting | None = None,
               fixations: Literal["authors", "ivt", "idt"] = "authors", geometry: ViewingGeometry | None = None,
               detection: dict | None = None, dataset: str = "doves") -> DovesImage:
    """Read one DOVES ``imgNNN.mat`` (see the module docstring)."""
    options = options or ReadOptions()
    accounting = accounting if accounting is not None else Accounting()
    path = Path(path)
    if fixations not in ("authors", "ivt", "idt"):
        raise ConfigError(f"fixations must be 'authors', 'ivt' or 'idt', got {fixations!r}")
    m = load_mat(path, "a DOVES imgNNN.mat")
    picture = np.asarray(m.get("picture"))
    if picture.ndim != 2:
        raise ReaderError(f"'picture' has shape {picture.shape}: expected a 2-D grey image", path=path)
    names = [str(np.asarray(n).ravel()[0]).removesuffix(".eye") for n in _cells(m, "subj_names_list", path)]
    eye = _cells(m, "eye_data", path)
    fix = _cells(m, "fix_data", path)
    if not (len(names) == len(eye) == len(fix)):
        raise ReaderError(f"{len(names)} observers but {len(eye)} eye_data and {len(fix)} fix_data cells",
                          path=path)
    stimulus = path.stem
    traces = {}
    for name, e in zip(names, eye, strict=True):
        e = np.asarray(e, dtype=np.float64)
        if e.ndim != 2 or e.shape[0] != 2:
            raise ReaderError(f"eye_data of {name} has shape {e.shape}: expected 2×N (x; y)", path=path,
                              record=f"observer={name}")
        traces[name] = e - 1.0  # MATLAB 1-based → 0-based
    rows = []
    if fixations == "authors":
        for name, f in zip(names, fix, strict=True):
            f = np.asarray(f, dtype=np.float64)
            if f.size == 0:
                continue
            if f.ndim != 2 or f.shape[0] != 3:
                raise ReaderError(f"fix_data of {name} has shape {f.shape}: expected 3×K (x; y; duration)",
                                  path=path, record=f"observer={name}")
            x, y, dur = f[0] - 1.0, f[1] - 1.0, f[2] * (1000.0 / DOVES_RATE_HZ)
            keep = np.ones(x.size, bool)
            garbage = np.isfinite(x) & np.isfinite(y) & ~np.isfinite(dur)
            if garbage.any():
                k = int(np.flatnonzero(garbage)[0])
                accounting.dropped(path, NON_FINITE_DURATION, int(garbage.sum()),
                                   example=f"{path}[observer={name},fixation={k}]: duration={f[2, k]}")
                keep &= ~garbage
            neg, nonfinite = duration_masks(dur, nan_ok=False)
            for mask, reason, what in ((~np.isfinite(x) | ~np.isfinite(y), NON_FINITE, "x, y must be finite"),
                                       (nonfinite, NON_FINITE_DURATION, "duration must be a finite number"),
                                       (neg, NEGATIVE_DURATION, "duration must be ≥ 0 samples")):
                mask &= keep
                if mask.any():
                    k = int(np.flatnonzero(mask)[0])
                    exc = ReaderError(f"fixation {k}: {what}, got x={f[0, k]}, y={f[1, k]}, duration={f[2, k]}",
                                      path=path, record=f"observer={name},fixation={k}")
                    if options.on_error == "raise":
                        raise exc
                    accounting.dropped(path, reason, int(mask.sum()), example=str(exc))
                    keep &= ~mask
            k = np.flatnonzero(keep)
            rows.append(pd.DataFrame({
                "dataset": dataset, "stimulus": stimulus, "observer": name, "trial": np.zeros(k.size, np.int32),
                "index": np.arange(k.size, dtype=np.int32), "x": x[k], "y": y[k], "t_start_ms": np.nan,
                "duration_ms": dur[k], "eye": "unknown",
                "source": [f"{path}[observer={name},fixation={int(i)}]" for i in k]}))
    else:
        from saliency.fixations.detect import DETECTORS

        detect = DETECTORS[fixations]
        g = geometry or DOVES_GEOMETRY
        for name, tr in traces.items():
            t = np.arange(tr.shape[1]) * (1000.0 / DOVES_RATE_HZ)
            det = detect(t, tr[0], tr[1], g, **(detection or {}))
            n = len(det)
            rows.append(pd.DataFrame({
                "dataset": dataset, "stimulus": stimulus, "observer": name, "trial": np.zeros(n, np.int32),
                "index": np.arange(n, dtype=np.int32), "x": det.x_px, "y": det.y_px,
                "t_start_ms": det.t_start_ms, "duration_ms": det.duration_ms, "eye": "unknown",
                "source": [f"{path}[observer={name},sample={int(i)}]" for i in det.first_sample]}))
    frame = coerce_frame(pd.concat(rows, ignore_index=True))[list(COLUMNS)] if rows else empty_frame()
    return DovesImage(path, stimulus, picture.astype(np.float64), frame, traces)

"""NUS / OSIE layout: one MATLAB v5 ``fixations.mat`` plus a folder of stimulus images.

Layout (OSIE, Xu et al., "Predicting human gaze beyond pixels", JoV 2014)::

    <root>/fixations.mat     # fixations(700): .img (file name), .subjects(15): .fix_x, .fix_y, .fix_duration
    <root>/stimuli/1001.jpg  # 800×600 px

``fixations`` may be a struct array or a cell array of 1×1 structs (the OSIE file is the latter).

Coordinates: ``fix_x``, ``fix_y`` are 1-based MATLAB pixel coordinates (MATLAB pixel k has its centre at
k). We convert at the boundary with **x0 = x1 − 1, y0 = y1 − 1**, so MATLAB pixel k becomes our pixel
k − 1, which covers [k − 1, k): integer MATLAB positions land on the same pixel index pysaliency uses
(it subtracts 1 as well). OSIE's values lie in [1.2, 799.2] × [1.2, 599.2] on 800×600 images.

Time: the file holds fixation durations (ms) but no onsets, and saccade times are unknown, so a
cumulative sum of durations would understate every onset after the first. ``t_start_ms`` is therefore
NaN; ``index`` gives the order within the scanpath and ``duration_ms`` the duration.

Observers are the subject positions, named ``s01`` … ``s15`` (1-based, as in MATLAB); ``trial`` is 0.
Every row's ``source`` is ``<mat>[fixations(i).subjects(j).fix(k)]`` with MATLAB 1-based indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    MALFORMED,
    NEGATIVE_DURATION,
    NON_FINITE,
    NON_FINITE_DURATION,
    Accounting,
    duration_masks,
)
from saliency.fixations.table import DatasetMeta, FixationTable, empty_frame
from saliency.readers.base import ReadOptions, finalize
from saliency.readers.matfile import load_mat
from saliency.readers.request import ReadRequest
from saliency.readers.stimuli import scan_stimuli
from saliency.units import ViewingGeometry

NUS_ORIGIN = "0-based pixel corners (converted from MATLAB 1-based: x0 = x1 - 1, y0 = y1 - 1)"


def _items(value: Any) -> list[Any]:
    """Flatten a loadmat struct array / cell array (squeeze_me=True) into a list of mat_structs."""
    arr = np.atleast_1d(np.asarray(value, dtype=object)) if not hasattr(value, "_fieldnames") else [value]
    out = []
    for v in np.asarray(arr, dtype=object).ravel():
        if isinstance(v, np.ndarray):  # a cell holding a struct (array)
            out.extend(_items(v))
        else:
            out.append(v)
    return out


def _vector(struct: Any, field: str) -> np.ndarray | None:
    if field not in getattr(struct, "_fieldnames", ()):
        return None
    try:
        return np.atleast_1d(np.asarray(getattr(struct, field), dtype=np.float64)).ravel()
    except (TypeError, ValueError):
        return None


def nus_frame(mat_path: str | Path, options: ReadOptions, accounting: Accounting, *,
              dataset: str = "osie") -> pd.DataFrame:
    """The canonical rows of a NUS ``fixations.mat`` (0-based stimulus pixels), drops counted.

    Negative durations and subjects whose ``fix_x``/``fix_y``/``fix_duration`` lengths differ are bad
    records (ReaderError under ``on_error='raise'``); non-finite coordinates are dropped and counted.
    """

    mat_path = Path(mat_path)
    key = str(mat_path)
    mat = load_mat(mat_path, "a NUS fixations.mat", squeeze_me=True, struct_as_record=False)
    if "fixations" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise ReaderError(f"no variable 'fixations' (found {names}); expected the NUS/OSIE struct array",
                          path=mat_path)

    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("stimulus", "observer", "index", "x", "y", "dur", "src")}
    for i, entry in enumerate(_items(mat["fixations"]), start=1):
        rec = f"fixations({i})"
        fields = getattr(entry, "_fieldnames", None)
        if fields is None or "img" not in fields or "subjects" not in fields:
            raise ReaderError(f"expected a struct with fields 'img' and 'subjects', got {type(entry).__name__}"
                              f" with fields {fields}", path=mat_path, record=rec)
        img = str(entry.img).strip()
        for j, subj in enumerate(_items(entry.subjects), start=1):
            srec = f"{rec}.subjects({j})"
            x, y, d = _vector(subj, "fix_x"), _vector(subj, "fix_y"), _vector(subj, "fix_duration")
            if x is None or y is None:
                accounting.bad_record(ReaderError("expected numeric fields 'fix_x' and 'fix_y'", path=mat_path,
                                                  record=srec), options)
                continue
            if d is None:
                d = np.full(len(x), np.nan)
            n = max(len(x), len(y), len(d))
            if not (len(x) == len(y) == len(d)):
                exc = ReaderError(f"fix_x, fix_y, fix_duration have lengths {len(x)}, {len(y)}, {len(d)}; "
                                  "expected equal lengths", path=mat_path, record=srec)
                if options.on_error == "raise":
                    raise exc
                accounting.dropped(key, MALFORMED, n, example=f"{srec}: {exc.reason}")
                continue
            k = np.arange(n)
            neg, nonfinite = duration_masks(d, nan_ok=False)
            for mask, reason, what in ((nonfinite, NON_FINITE_DURATION, "expected a finite duration"),
                                       (neg, NEGATIVE_DURATION, "expected a duration ≥ 0")):
                if mask.any():
                    first = int(np.flatnonzero(mask)[0])
                    exc = ReaderError(f"fix_duration = {d[first]:g} ms; {what}", path=mat_path,
                                      record=f"{srec}.fix({first + 1})")
                    if options.on_error == "raise":
                        raise exc
                    accounting.dropped(key, reason, int(mask.sum()), example=f"{exc.record}: {exc.reason}")
            neg = neg | nonfinite
            bad = ~(np.isfinite(x) & np.isfinite(y))
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                accounting.dropped(key, NON_FINITE, int((bad & ~neg).sum()),
                                   example=f"{srec}.fix({first + 1}): x={x[first]}, y={y[first]}")
            ok = ~(neg | bad)
            if not ok.any():
                continue
            m = int(ok.sum())
            cols["stimulus"].append(np.full(m, img, dtype=object))
            cols["observer"].append(np.full(m, f"s{j:02d}", dtype=object))
            cols["index"].append(k[ok])
            cols["x"].append(x[ok] - 1.0)
            cols["y"].append(y[ok] - 1.0)
            cols["dur"].append(d[ok])
            cols["src"].append(np.array([f"{key}[{srec}.fix({kk + 1})]" for kk in k[ok]], dtype=object))

    if not cols["x"]:
        return empty_frame()
    n = sum(len(a) for a in cols["x"])
    return pd.DataFrame({
        "dataset": np.full(n, dataset, dtype=object),
        "stimulus": np.concatenate(cols["stimulus"]),
        "observer": np.concatenate(cols["observer"]),
        "trial": np.zeros(n, dtype=np.int32),
        "index": np.concatenate(cols["index"]).astype(np.int32),
        "x": np.concatenate(cols["x"]),
        "y": np.concatenate(cols["y"]),
        "t_start_ms": np.full(n, np.nan),
        "duration_ms": np.concatenate(cols["dur"]),
        "eye": np.full(n, "unknown", dtype=object),
        "source": np.concatenate(cols["src"]),
    })


def read_nus(root: str | Path, options: ReadOptions | None = None, accounting: Accounting | None = None, *,
             dataset: str = "osie", mat_name: str = "fixations.mat", stimuli_dir: str | Path | None = None,
             pixels_per_degree: float | None = None, geometry: ViewingGeometry | None = None,
             notes: dict | None = None) -> FixationTable:
    """Read a NUS/OSIE dataset: ``root`` is the folder (or the ``.mat`` file itself).

    Stimulus sizes come from the image headers in ``stimuli_dir`` (default ``<root>/stimuli``).
    Coordinates are converted from MATLAB 1-based to 0-based (x0 = x1 − 1, y0 = y1 − 1).
    """
    options = options or ReadOptions()
    accounting = accounting if accounting is not None else Accounting()
    root = Path(root)
    mat_path = root if root.suffix.lower() == ".mat" else root / mat_name
    stim_dir = Path(stimuli_dir) if stimuli_dir is not None else mat_path.parent / "stimuli"
    stimuli = scan_stimuli(stim_dir)
    frame = nus_frame(mat_path, options, accounting, dataset=dataset)
    meta = DatasetMeta(dataset, stimuli, geometry, pixels_per_degree, NUS_ORIGIN, "nus", dict(notes or {}))
    return finalize(frame, meta, options, accounting)


def read_nus_request(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Registry entry point (``saliency ingest nus ROOT``)."""
    if request.origin == 0:
        raise ConfigError("the NUS layout stores MATLAB 1-based coordinates; origin 0 is not supported")
    return read_nus(path, request.options, accounting, dataset=request.dataset, stimuli_dir=request.stimuli_dir,
                    pixels_per_degree=request.pixels_per_degree, geometry=request.geometry, notes=dict(request.notes))

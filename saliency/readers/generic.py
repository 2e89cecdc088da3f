"""Generic fixation tables (CSV / TSV / Parquet) with a user-given column mapping.

One row per fixation. The mapping names, for each canonical field, the source column
(``--column x=gaze_x --column stimulus=img`` or a TOML file, see :func:`load_mapping_file`)::

    field      required  meaning (units)
    x, y       yes       fixation position in pixels (stimulus pixels, or screen pixels + placement)
    stimulus   yes*      stimulus name (*or one fixed name via ``--stimulus``)
    observer   no        default: the file's stem
    trial      no        default 0
    index      no        default: order of the rows within (stimulus, observer, trial), 0-based
    t_start    no        onset (``time_unit``), default NaN
    t_end      no        offset; gives the duration when ``duration`` is not mapped
    duration   no        duration (``time_unit``), default NaN
    eye        no        left/right (L/R, 0/1) or mean; default unknown

Coordinates: ``origin`` 0 (default) means pixel j covers [j, j+1) already; ``origin`` 1 (MATLAB-style)
converts with x0 = x − 1, y0 = y − 1. A :class:`~saliency.fixations.placement.StimulusPlacement` then maps
screen to stimulus pixels. Missing values (empty, ``.``, ``NA``, ``NaN``) in x/y drop the row as a
non-finite coordinate; any other non-number is a malformed record (file and line named).

Text files are read with pandas (all columns as text, so nothing is silently coerced); line numbers
are physical lines (header = line 1). A record with too many fields falls back to Python's csv module to
name the exact line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import (
    MAX_DURATION_MS,
    NEGATIVE_DURATION,
    NON_FINITE,
    NON_FINITE_DURATION,
    OTHER_EYE,
    REPEATED_HEADER,
    TRUNCATED,
    Accounting,
    duration_masks,
)
from saliency.fixations.table import DatasetMeta, FixationTable, StimulusInfo, empty_frame
from saliency.io import read_toml
from saliency.readers.base import finalize
from saliency.readers.request import MAPPABLE_FIELDS, TIME_UNITS_MS, ReadRequest
from saliency.readers.stimuli import fixed_size_stimuli
from saliency.readers.text import decode_bytes

NA_TOKENS = frozenset({"", ".", "na", "nan", "n/a", "null", "none", "-"})
PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".xls", ".tab", ".dat")
EYE_VALUES = {"l": "left", "left": "left", "0": "left", "r": "right", "right": "right", "1": "right",
              "mean": "mean", "average": "mean", "avg": "mean", "b": "mean", "both": "mean",
              "binocular": "mean", "2": "mean"}


class SourceTable:
    """A source file as a frame of text columns plus where each row came from."""

    def __init__(self, path: Path, frame: pd.DataFrame, lines: np.ndarray | None,
                 short: np.ndarray | None = None, repeated_headers: int = 0):
        self.path = path
        self.frame = frame
        self.lines = lines  # physical 1-based line per row (text), None for Parquet
        self.short = short  # rows with fewer fields than the header (see drop_short_rows)
        self.repeated_headers = repeated_headers  # header lines repeated inside the file (removed)

    def where(self, i: int) -> dict[str, Any]:
        """ReaderError location kwargs for row position ``i``."""
        if self.lines is not None:
            return {"path": self.path, "line": int(self.lines[i])}
        return {"path": self.path, "record": f"row {i + 1}"}

    def sources(self) -> np.ndarray:
        if self.lines is not None:
            return np.char.add(f"{self.path}:", self.lines.astype(str)).astype(object)
        return np.char.add(f"{self.path}[row ", np.char.add((np.arange(len(self.frame)) + 1).astype(str),
                                                           "]")).astype(object)

    def subset(self, keep: np.ndarray) -> SourceTable:
        return SourceTable(self.path, self.frame[keep].reset_index(drop=True),
                           None if self.lines is None else self.lines[keep],
                           None if self.short is None else self.short[keep])

    def __len__(self) -> int:
        return len(self.frame)


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def load_source(path: str | Path, *, encoding: str = "utf-8", delimiter: str | None = None,
                usecols: Callable[[str], bool] | None = None) -> SourceTable:
    """Read a CSV/TSV/Parquet file as text columns, keeping each row's physical line number.

    ``usecols``: keep only the columns whose (stripped) name it accepts (wide exports: less memory).
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError("file not found", path=path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.read_table(path)
            if usecols is not None:
                pf = pf.select([c for c in pf.column_names if usecols(c.strip())])
            frame = pf.to_pandas()
        except (OSError, pa.ArrowInvalid) as exc:
            raise ReaderError(f"not a readable Parquet file ({exc})", path=path) from exc
        for c in frame.columns:
            frame[c] = frame[c].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        return SourceTable(path, frame.astype(object), None)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReaderError(f"cannot read ({exc.strerror or exc})", path=path) from exc
    text, _ = decode_bytes(data, path, encoding)
    if not text.strip():
        return SourceTable(path, pd.DataFrame(), np.zeros(0, dtype=np.int64))
    sep = delimiter or sniff_delimiter(text.split("\n", 1)[0])
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, engine="c",
                            usecols=(lambda c: usecols(str(c).strip())) if usecols is not None else None)
        lines = np.arange(len(frame), dtype=np.int64) + 2
        n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if n_lines - 1 != len(frame):  # quoted newlines or trailing blank lines: count lines exactly
            raise pd.errors.ParserError("line count mismatch")
        short = _short_lines(text, sep, len(frame))
        if short is None:  # quoted fields: only the csv module counts fields exactly
            raise pd.errors.ParserError("quoted fields")
        frame = frame.fillna("")
    except pd.errors.ParserError:
        frame, lines, short = _load_with_csv(path, text, sep)
        if usecols is not None:
            frame = frame[[c for c in frame.columns if usecols(str(c).strip())]]
    if len(short) and not text.endswith(("\n", "\r")) and text.rstrip("\r\n").rsplit("\n", 1)[-1].strip():
        short[-1] = True  # the last line has no line end: the file may be cut inside it (values changed)
    blank = (frame == "").all(axis=1).to_numpy() & ~short if len(frame.columns) else np.zeros(len(frame), bool)
    frame.columns = [str(c).strip() for c in frame.columns]
    header = [str(c) for c in frame.columns]
    repeated = ((frame.apply(lambda col: col.astype(str).str.strip()) == header).all(axis=1).to_numpy()
                if len(frame.columns) else np.zeros(len(frame), bool))
    drop = blank | repeated
    if drop.any():
        frame, lines, short = frame[~drop].reset_index(drop=True), lines[~drop], short[~drop]
    return SourceTable(path, frame, lines, short=short, repeated_headers=int(repeated.sum()))


def _short_lines(text: str, sep: str, n_rows: int) -> np.ndarray | None:
    """Per data row (line 2, 3, ...): True where the line has fewer separators than the header and is not
    blank (pandas pads such rows with empty fields). None when the text has quotes (counting needs a parser)."""
    if '"' in text or len(sep) != 1:
        return None
    b = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)  # ASCII bytes never occur inside UTF-8 sequences
    nl = np.flatnonzero(b == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [b.size]))
    seps = np.concatenate(([0], np.cumsum(b == ord(sep))))
    count = seps[ends] - seps[starts]
    length = ends - starts - ((ends > starts) & (b[np.maximum(ends - 1, 0)] == 13))
    short = (count[1:] < count[0]) & (length[1:] > 0)
    return short[:n_rows]


def _load_with_csv(path: Path, text: str, sep: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Slow, exact path: Python's csv module; rows with too many fields raise naming their line.

    Returns (frame, physical line per row, mask of rows with fewer fields than the header)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ReaderError(f"header is not a {sep!r}-separated line ({exc})", path=path, line=1) from exc
    rows, lines, short = [], [], []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a quote left open by a cut file
            raise ReaderError(f"not a {sep!r}-separated row ({exc})", path=path, line=start) from exc
        if len(row) > len(header):
            raise ReaderError(f"{len(row)} fields, expected at most {len(header)} (as in the header)",
                              path=path, line=start)
        short.append(len(row) < len(header) and any(v.strip() for v in row))
        rows.append(row + [""] * (len(header) - len(row)))
        lines.append(start)
        start = reader.line_num + 1
    return (pd.DataFrame(rows, columns=header, dtype=object), np.array(lines, dtype=np.int64),
            np.array(short, dtype=bool))


def drop_short_rows(src: SourceTable, request: ReadRequest, accounting: Accounting) -> SourceTable:
    """Rows with fewer fields than the header (a file cut mid-row) and a last line without a line end
    (cut inside its last field) are errors, never padded or shortened values:
    :class:`ReaderError` naming the line under ``raise``; dropped as ``truncated row`` under ``skip``.
    A repeated header line is not a record: it is removed and noted (``repeated header line``)."""
    if src.repeated_headers:
        accounting.note(src.path, REPEATED_HEADER, src.repeated_headers)
    if src.short is None or not src.short.any():
        return src
    n_fields = len(src.frame.columns)
    for i in np.flatnonzero(src.short):
        exc = ReaderError(f"fewer fields than the header's {n_fields}, or the last line without a line end: "
                          "a truncated row (complete files end with a newline)", **src.where(int(i)))
        accounting.bad_record(exc, request.options, TRUNCATED)
    return src.subset(~src.short)


def numeric_column(src: SourceTable, column: str, request: ReadRequest, accounting: Accounting,
                   bad: np.ndarray) -> np.ndarray:
    """Parse ``column`` as float (missing tokens → NaN); non-numbers are bad records (marked in ``bad``)."""
    s = src.frame[column].astype(str).str.strip()
    missing = s.str.lower().isin(NA_TOKENS).to_numpy()
    values = pd.to_numeric(s.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    wrong = np.isnan(values) & ~missing & ~bad
    if wrong.any():
        for i in np.flatnonzero(wrong):
            exc = ReaderError(f"column {column!r} = {s.iat[i]!r}; expected a number", **src.where(int(i)))
            accounting.bad_record(exc, request.options)
        bad |= wrong
    return values


def check_durations(dur: np.ndarray, bad: np.ndarray, src: SourceTable, request: ReadRequest,
                    accounting: Accounting) -> np.ndarray:
    """Mask of rows whose duration (ms) is negative, ±inf or beyond ``MAX_DURATION_MS`` (NaN = unknown is
    allowed); each is a bad record (``negative duration`` / ``non-finite duration``)."""
    neg, huge = duration_masks(dur, nan_ok=True)
    neg, huge = neg & ~bad, huge & ~bad
    for mask, reason, what in ((neg, NEGATIVE_DURATION, "expected a duration ≥ 0"),
                               (huge, NON_FINITE_DURATION, f"expected a finite duration ≤ {MAX_DURATION_MS:g} ms")):
        for i in np.flatnonzero(mask):
            exc = ReaderError(f"duration {dur[i]:g} ms; {what}", **src.where(int(i)))
            accounting.bad_record(exc, request.options, reason)
    return neg | huge


def require_columns(src: SourceTable, mapping: Mapping[str, str]) -> None:
    missing = {f: c for f, c in mapping.items() if c not in src.frame.columns}
    if missing:
        have = ", ".join(map(str, src.frame.columns[:40]))
        raise ReaderError(f"column(s) {missing} not found (mapping field → column); the file has: {have}",
                          path=src.path, line=1 if src.lines is not None else None)


def normalise_eye(values: pd.Series) -> np.ndarray:
    return values.astype(str).str.strip().str.lower().map(EYE_VALUES).fillna("unknown").to_numpy(dtype=object)


def resolve_stimulus_names(names: np.ndarray, stimuli: Mapping[str, StimulusInfo] | None) -> np.ndarray:
    """Map names without a suffix (``img01``) onto image file names (``img01.jpg``) when unambiguous."""
    if stimuli is None:
        return names
    by_stem: dict[str, list[str]] = {}
    for k in stimuli:
        by_stem.setdefault(Path(k).stem, []).append(k)
    table = {n: (n if n in stimuli else (by_stem[n][0] if len(by_stem.get(n, ())) == 1 else n))
             for n in pd.unique(names)}
    return np.array([table[n] for n in names], dtype=object)


def stimuli_for(names: np.ndarray, request: ReadRequest, *, sizes: Mapping[str, tuple[int, int]] | None = None,
                path: Path | None = None) -> dict[str, StimulusInfo]:
    """The stimulus list: the request's images, else a fixed size, else sizes found in the file."""
    if request.stimuli is not None:
        return dict(request.stimuli)
    if request.stimulus_size is not None:
        return fixed_size_stimuli(set(names), *request.stimulus_size)
    if sizes:
        return {n: StimulusInfo(n, int(w), int(h)) for n, (w, h) in sorted(sizes.items())}
    if len(names) == 0:
        return {}
    raise ConfigError(f"{path or 'input'}: stimulus sizes unknown; give the images (--stimuli DIR) "
                      "or their size (--stimulus-size WIDTHxHEIGHT)")


def build_frame(src: SourceTable, mapping: Mapping[str, str], request: ReadRequest, accounting: Accounting, *,
                default_origin: int = 0, index_origin: int = 0, time_factor_ms: float | None = None,
                drop_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Canonical rows from a one-row-per-fixation source (coordinates → 0-based stimulus pixels).

    ``mapping``: canonical field → column (fields of :data:`MAPPABLE_FIELDS`; x and y required).
    ``index_origin``: 1 when the source numbers fixations from 1 (Data Viewer's CURRENT_FIX_INDEX).
    """
    key = str(src.path)
    if drop_rows is not None and src.short is not None and src.short.any():
        drop_rows = drop_rows[~src.short]
    src = drop_short_rows(src, request, accounting)
    n = len(src)
    if n == 0:
        return empty_frame()
    for f in ("x", "y"):
        if f not in mapping:
            raise ConfigError(f"{key}: no column for {f!r} (header: {', '.join(map(str, src.frame.columns[:12]))}"
                              f"{', ...' if len(src.frame.columns) > 12 else ''}); name it with --column {f}=COLUMN")
    if "stimulus" not in mapping and request.stimulus is None:
        raise ConfigError(f"{key}: no stimulus column mapped and no fixed stimulus; pass --column "
                          "stimulus=COLUMN or --stimulus NAME")
    require_columns(src, mapping)
    factor = time_factor_ms if time_factor_ms is not None else TIME_UNITS_MS[request.time_unit]
    bad = np.zeros(n, dtype=bool) if drop_rows is None else drop_rows.copy()
    num = {f: numeric_column(src, mapping[f], request, accounting, bad)
           for f in ("x", "y", "trial", "index", "t_start", "t_end", "duration") if f in mapping}

    origin = request.origin if request.origin is not None else default_origin
    x, y = num["x"] - origin, num["y"] - origin
    if request.placement is not None:
        x, y = request.placement.screen_to_stimulus(x, y)
    t0 = num["t_start"] * factor if "t_start" in num else np.full(n, np.nan)
    if "duration" in num:
        dur = num["duration"] * factor
    elif "t_end" in num and "t_start" in num:
        dur = (num["t_end"] - num["t_start"]) * factor
    else:
        dur = np.full(n, np.nan)

    bad |= check_durations(dur, bad, src, request, accounting)
    for f in ("trial", "index"):
        if f in num:
            v = num[f]
            nonint = ~bad & ~(np.isfinite(v) & (v == np.round(v)))
            for i in np.flatnonzero(nonint):
                exc = ReaderError(f"column {mapping[f]!r} = {src.frame[mapping[f]].iat[i]!r}; expected an integer",
                                  **src.where(int(i)))
                accounting.bad_record(exc, request.options)
            bad |= nonint

    nonfinite = ~bad & ~(np.isfinite(x) & np.isfinite(y))
    if nonfinite.any():
        i = int(np.flatnonzero(nonfinite)[0])
        w = src.where(i)
        accounting.dropped(key, NON_FINITE, int(nonfinite.sum()),
                           example=f"line {w['line']}" if "line" in w else w["record"])

    stimulus = (src.frame[mapping["stimulus"]].astype(str).str.strip().to_numpy(dtype=object)
                if "stimulus" in mapping else np.full(n, request.stimulus, dtype=object))
    stimulus = resolve_stimulus_names(stimulus, request.stimuli)
    observer = (src.frame[mapping["observer"]].astype(str).str.strip().to_numpy(dtype=object)
                if "observer" in mapping else np.full(n, src.path.stem, dtype=object))
    eye = normalise_eye(src.frame[mapping["eye"]]) if "eye" in mapping else np.full(n, "unknown", dtype=object)
    other_eye = np.zeros(n, dtype=bool)
    if request.eye in ("left", "right", "mean"):
        other_eye = ~bad & ~nonfinite & (eye != request.eye)
        if other_eye.any():
            accounting.dropped(key, OTHER_EYE, int(other_eye.sum()))

    keep = ~(bad | nonfinite | other_eye)
    trial = np.where(np.isfinite(num["trial"]), num["trial"], 0) if "trial" in num else np.zeros(n)
    frame = pd.DataFrame({
        "dataset": np.full(n, request.dataset, dtype=object),
        "stimulus": stimulus, "observer": observer, "trial": trial.astype(np.int64),
        "x": x, "y": y, "t_start_ms": t0, "duration_ms": dur, "eye": eye, "source": src.sources(),
    })
    if "index" in num:
        frame["index"] = np.where(np.isfinite(num["index"]), num["index"], 0).astype(np.int64) - index_origin
    frame = frame[keep].reset_index(drop=True)
    if "index" not in num:
        frame["index"] = frame.groupby(["stimulus", "observer", "trial"], sort=False).cumcount()
    return frame


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML column mapping::

        origin = 1            # optional: 0 or 1
        time_unit = "s"       # optional: ms, s, us
        delimiter = ";"       # optional
        encoding = "latin-1"  # optional
        [columns]
        x = "gaze_x"
        y = "gaze_y"
        stimulus = "img"

    Returns ``{"columns": {...}, **options}``; unknown keys are a :class:`ConfigError`.
    """
    path = Path(path)
    data = read_toml(path, "mapping file")
    allowed = {"columns", "origin", "time_unit", "delimiter", "encoding", "stimulus", "eye"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    cols = data.get("columns", {})
    if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
        raise ConfigError(f"{path}: [columns] must map field names to column names (strings)")
    bad = sorted(set(cols) - set(MAPPABLE_FIELDS))
    if bad:
        raise ConfigError(f"{path}: [columns] has unknown field(s) {bad}; expected some of {list(MAPPABLE_FIELDS)}")
    return data


def frame_to_table(frame: pd.DataFrame, request: ReadRequest, accounting: Accounting, fmt: str,
                   path: Path, sizes: Mapping[str, tuple[int, int]] | None = None,
                   origin_text: str = "0-based pixel corners") -> FixationTable:
    """Attach the stimulus list and finalise (out-of-stimulus policy, accounting, validation)."""
    stimuli = stimuli_for(frame["stimulus"].to_numpy(), request, sizes=sizes, path=path)
    meta = DatasetMeta(request.dataset, stimuli, request.geometry, request.pixels_per_degree, origin_text, fmt,
                       dict(request.notes))
    return finalize(frame, meta, request.options, accounting)


def read_generic(path: str | Path, request: ReadRequest, accounting: Accounting) -> FixationTable:
    """Read one generic CSV/TSV/Parquet fixation table with ``request.columns`` as the mapping."""
    src = load_source(path, encoding=request.encoding, delimiter=request.delimiter)
    frame = build_frame(src, request.columns, request, accounting)
    origin = request.origin if request.origin is not None else 0
    text = ("0-based pixel corners" if origin == 0 else
            "0-based pixel corners (converted from 1-based: x0 = x - 1, y0 = y - 1)")
    return frame_to_table(frame, request, accounting, "generic", Path(path), origin_text=text)


ReadFn = Callable[[Path, ReadRequest, Accounting], FixationTable]

"""EyeLink ASC raw samples: bulk parsing (pyarrow CSV, line-by-line fallback naming the bad line),
compact per-trial arrays of the chosen eye, blink masking.
"""

from __future__ import annotations

import io
import math

import numpy as np

from saliency.readers.eyelink.lexer import CHUNK_BYTES, NULLS, Eye, Lexer, show
from saliency.readers.samples import GazeSamples


class SampleMixin(Lexer):
    """Sample buffering and parsing of the parser."""

    # -- samples ---------------------------------------------------------------------------------
    def _add_samples(self, data: bytes, first_line: int, n_lines: int) -> None:
        if n_lines <= 0:
            return
        if not data.endswith(b"\n"):
            data += b"\n"
        # sample lines of consecutive blocks with the same layout are parsed together
        layout = (self.block_eyes[-1] if self.block_eyes else ("left",), self.samples_fmt)
        if self.sample_buf and layout != self.buf_layout:
            self._flush_samples()
        self.buf_layout = layout
        self.sample_buf.append(data)
        self.sample_segs.append((first_line, n_lines, self.trial_seq, self.block_seq))
        self.sample_buf_bytes += len(data)
        if self.sample_buf_bytes >= CHUNK_BYTES:
            self._flush_samples()

    def _flush_samples(self) -> None:
        if not self.sample_buf:
            return
        data = b"".join(self.sample_buf)
        segs = np.asarray(self.sample_segs, dtype=np.int64)
        self.sample_buf, self.sample_segs, self.sample_buf_bytes = [], [], 0
        eyes = self.buf_layout[0] if self.buf_layout else ("left",)
        binocular = len(eyes) == 2
        # file line of every sample: segment starts repeated + offsets within each segment
        starts = np.repeat(segs[:, 0] - np.concatenate(([0], np.cumsum(segs[:-1, 1]))), segs[:, 1])
        lines = starts + np.arange(int(segs[:, 1].sum()))
        tseq = np.repeat(segs[:, 2].astype(np.int32), segs[:, 1])
        bseq = np.repeat(segs[:, 3].astype(np.int32), segs[:, 1])
        cols = parse_samples_fast(data, binocular)
        if cols is None or cols[0].shape[0] != lines.shape[0]:
            cols, keep = self._parse_samples_slow(data, lines, binocular)
            lines, tseq, bseq = lines[keep], tseq[keep], bseq[keep]
        t, xl, yl, xr, yr = cols
        # keep only the chosen eye (or the binocular mean): label 0 left, 1 right, 2 mean
        if binocular:
            if self.eye == "mean":
                x, y, label = (xl + xr) / 2, (yl + yr) / 2, 2
            else:
                label = 0 if self.eye == "left" else 1
                x, y = (xl, yl) if label == 0 else (xr, yr)
        else:
            recorded = 1 if eyes == ("right",) else 0
            label = recorded if self.eye == "mean" else (0 if self.eye == "left" else 1)
            if label == recorded:
                x, y = xl, yl  # a monocular block's only eye is parsed into the first columns
            else:  # the other eye was asked for: every sample is missing
                x = y = np.broadcast_to(np.float32(np.nan), t.shape)
        self.sample_parts.append((t, np.asarray(x, np.float32), np.asarray(y, np.float32), label,
                                  lines.astype(np.int32), tseq, bseq))

    def _parse_samples_slow(self, data: bytes, lines: np.ndarray, binocular: bool):
        """Line-by-line parse to find (and name) the bad line; under skip drops it."""
        need = 6 if binocular else 3
        rows, keep = [], []
        for k, raw in enumerate(data.split(b"\n")[: lines.shape[0]]):
            f = raw.split()
            vals = None
            if len(f) >= need:  # time x y | time xl yl pl xr yr (the columns the fast path needs)
                try:
                    vals = [float(v) if v != b"." else math.nan for v in f[:need]]
                except ValueError:
                    vals = None
            if vals is None or not math.isfinite(vals[0]):
                layout = "time xl yl pl xr yr pr" if binocular else "time x y pupil"
                self.bad(int(lines[k]), f"malformed sample line {show(raw)}: expected '{layout} ...' "
                                        "numbers ('.' = missing)")
                continue
            if binocular:
                rows.append((vals[0], vals[1], vals[2], vals[4], vals[5]))
            else:
                rows.append((vals[0], vals[1], vals[2], math.nan, math.nan))
            keep.append(k)
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        cols = (arr[:, 0], arr[:, 1].astype(np.float32), arr[:, 2].astype(np.float32),
                arr[:, 3].astype(np.float32), arr[:, 4].astype(np.float32))
        return cols, np.asarray(keep, dtype=np.int64)


def parse_samples_fast(data: bytes, binocular: bool):
    """pyarrow CSV over tab-separated sample lines; None when any line does not fit."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        first = data[: data.find(b"\n")]
        ncol = first.count(b"\t") + 1
        names = [f"c{i}" for i in range(ncol)]
        need = [0, 1, 2, 4, 5] if binocular else [0, 1, 2]
        if max(need) >= ncol:
            return None
        types = {names[i]: pa.float64() for i in need}
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=NULLS,
                                                 include_columns=[names[i] for i in need]),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    t = table.column(0).to_numpy(zero_copy_only=False)
    if t.size and not np.isfinite(t).all():
        return None

    def col(i: int) -> np.ndarray:
        return table.column(names[i]).to_numpy(zero_copy_only=False).astype(np.float32)

    if binocular:
        return t, col(1), col(2), col(4), col(5)
    nan = np.broadcast_to(np.float32(np.nan), t.shape)  # the absent eye: a zero-memory view
    return t, col(1), col(2), nan, nan


def collect_samples(p: Lexer, use_trialid: bool, eye: Eye) -> tuple[dict[int, GazeSamples], dict[str, int]]:
    """Concatenate the parsed parts, mask blinks, split by trial (views into one sorted copy)."""
    parts = p.sample_parts
    t = np.concatenate([q[0] for q in parts])
    x = np.concatenate([q[1] for q in parts])
    y = np.concatenate([q[2] for q in parts])
    label = np.concatenate([np.full(q[0].shape, q[3], np.int8) for q in parts])
    lines = np.concatenate([q[4] for q in parts])
    trial = np.concatenate([q[5] if use_trialid else q[6] for q in parts])
    p.sample_parts = []  # free the parts: from here on one copy of each column
    del parts
    # blinks of the kept eye (either eye for the binocular mean) → missing
    in_blink = np.zeros(t.size, bool)
    if len(p.blinks):
        b = np.frombuffer(p.blinks, dtype=np.float64).reshape(-1, 3)
        for code in (0, 1):
            bb = b[b[:, 0] == code]
            if bb.size:
                order = np.argsort(bb[:, 1])
                s0, e0 = bb[order, 1], bb[order, 2]
                k = np.searchsorted(s0, t, side="right") - 1
                inside = (k >= 0) & (t <= e0[np.maximum(k, 0)]) & ((label == code) | (label == 2))
                in_blink |= inside
                x[inside] = np.nan
                y[inside] = np.nan
    stats = {"samples": int(t.size), "samples_missing": int((~np.isfinite(x) | ~np.isfinite(y)).sum()),
             "samples_in_blink": int(in_blink.sum())}
    del in_blink
    # one sorted copy (by trial, then time; stable: file order on ties), samples outside trials dropped
    order = np.flatnonzero(trial >= 0)
    order = order[np.lexsort((t[order], trial[order]))]
    t = t[order]  # column by column, so that each unsorted column is freed at once
    x = x[order]
    y = y[order]
    label = label[order]
    lines = lines[order]
    trial = trial[order]
    del order
    dup = np.concatenate(([False], (np.diff(t) <= 0) & (trial[1:] == trial[:-1])))
    if dup.any():  # repeated time stamps within a trial: keep the first
        t, x, y, label, lines, trial = (a[~dup] for a in (t, x, y, label, lines, trial))
    names = ("left", "right", "mean")
    out: dict[int, GazeSamples] = {}
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(trial)) + 1, [t.size]))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi > lo:
            name = names[int(np.bincount(label[lo:hi], minlength=3).argmax())]
            k = int(trial[lo])
            out[k] = GazeSamples(t[lo:hi], x[lo:hi], y[lo:hi], np.broadcast_to(np.int64(k), (hi - lo,)),
                                 lines[lo:hi], name, p.path)
    return out, stats


"""EyeLink ASC fixation events: EFIX rows (eye choice, blinks, onset, binocular pairing) and detected
fixations (I-VT/I-DT over samples) → the canonical frame in stimulus pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.errors import ConfigError
from saliency.fixations.accounting import BLINK, OTHER_EYE, Accounting
from saliency.fixations.table import COLUMNS
from saliency.readers.eyelink.lexer import (
    BEFORE_ONSET,
    EYE_NAME,
    NO_STIMULUS,
    OUTSIDE_TRIAL,
    PAIRED,
    UNPAIRED,
    Eye,
    Lexer,
)
from saliency.readers.eyelink.messages import AscTrial
from saliency.readers.samples import GazeSamples
from saliency.units import ViewingGeometry


def efix_frame(p: Lexer, trials: list[AscTrial], use_trialid: bool, eye: Eye, acc: Accounting, path: Path,
                dataset: str, observer: str, placement: Any) -> pd.DataFrame:
    n = len(p.fx_line)
    line = np.frombuffer(p.fx_line, dtype=np.int64) if n else np.zeros(0, np.int64)
    eyes = np.frombuffer(p.fx_eye, dtype=np.int8).astype(np.int64) if n else np.zeros(0, np.int64)
    num = np.frombuffer(p.fx_num, dtype=np.float64).reshape(-1, 5) if n else np.zeros((0, 5))
    seq = np.frombuffer(p.fx_seq, dtype=np.int64).reshape(-1, 2) if n else np.zeros((0, 2), np.int64)
    start, end, dur, x, y = (num[:, k].copy() for k in range(5))
    trial = seq[:, 0] if use_trialid else seq[:, 1]
    keep = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        m = mask & keep
        if m.any():
            acc.dropped(path, reason, int(m.sum()), example=f"{path}:{int(line[np.flatnonzero(m)[0]])}")
            keep[m] = False

    drop(trial < 0, OUTSIDE_TRIAL)
    if eye != "mean":
        drop(eyes != (0 if eye == "left" else 1), OTHER_EYE)
    # blinks of the same eye covering more than half the fixation
    if len(p.blinks) and n:
        b = np.frombuffer(p.blinks, dtype=np.float64).reshape(-1, 3)
        ov = np.zeros(n)
        for code in (0, 1):
            bb = b[b[:, 0] == code]
            fi = np.flatnonzero(eyes == code)
            if bb.size == 0 or fi.size == 0:
                continue
            bb = bb[np.argsort(bb[:, 1])]
            k = np.searchsorted(bb[:, 1], end[fi], side="left") - 1  # last blink starting before the end
            for kk in (k, k - 1):
                ok = kk >= 0
                kc = np.maximum(kk, 0)
                o = np.minimum(end[fi], bb[kc, 2]) - np.maximum(start[fi], bb[kc, 1])
                ov[fi] = np.maximum(ov[fi], np.where(ok, np.clip(o, 0, None), 0.0))
        drop(ov > 0.5 * np.maximum(end - start, 1e-9), BLINK)
    tr_ok = np.clip(trial, 0, max(len(trials) - 1, 0))
    has_stim = np.array([t.stimulus is not None for t in trials] or [False], dtype=bool)
    drop(~has_stim[tr_ok], NO_STIMULUS)
    onset = np.array([t.onset_ms if t.onset_ms is not None else np.nan for t in trials] or [np.nan])
    on = onset[tr_ok]
    drop(np.isfinite(on) & (end < on), BEFORE_ONSET)

    out_eye = np.array(EYE_NAME, dtype=object)[eyes] if n else np.zeros(0, dtype=object)
    if eye == "mean" and n:
        idx = np.flatnonzero(keep)
        # a trial is binocular when both eyes have EFIX in it, or when its recording block recorded both
        # eyes (START ... LEFT RIGHT): a lone EFIX there has lost its partner, it is not monocular data
        block = seq[:, 1]
        binoc_block = np.array([len(e) == 2 for e in p.block_eyes] or [False], dtype=bool)
        in_binoc_block = (block >= 0) & binoc_block[np.clip(block, 0, max(len(p.block_eyes) - 1, 0))]
        binoc_trials = {int(tr) for tr in np.unique(trial[idx])
                        if {0, 1} <= set(eyes[idx][trial[idx] == tr].tolist())
                        or in_binoc_block[idx][trial[idx] == tr].any()}
        for tr in sorted(binoc_trials):
            sel = idx[trial[idx] == tr]
            left, right = sel[eyes[sel] == 0], sel[eyes[sel] == 1]
            ov = (np.minimum(end[left][:, None], end[right][None, :])
                  - np.maximum(start[left][:, None], start[right][None, :]))
            pairs = greedy_pairs(ov)
            paired_l = np.zeros(left.size, bool)
            paired_r = np.zeros(right.size, bool)
            for i, j in pairs:
                a, b2 = left[i], right[j]
                x[a], y[a] = (x[a] + x[b2]) / 2, (y[a] + y[b2]) / 2
                start[a], dur[a] = (start[a] + start[b2]) / 2, (dur[a] + dur[b2]) / 2
                out_eye[a] = "mean"
                paired_l[i] = paired_r[j] = True
            mask = np.zeros(n, bool)
            mask[right[paired_r]] = True
            drop(mask, PAIRED)
            mask = np.zeros(n, bool)
            mask[left[~paired_l]] = True
            mask[right[~paired_r]] = True
            drop(mask, UNPAIRED)

    idx = np.flatnonzero(keep)
    return assemble(trials, trial[idx], x[idx], y[idx], start[idx], dur[idx], out_eye[idx], line[idx],
                     dataset, observer, path, placement)


def assemble(trials: list[AscTrial], trial: np.ndarray, x: np.ndarray, y: np.ndarray, start: np.ndarray,
              dur: np.ndarray, eye: np.ndarray, line: np.ndarray, dataset: str, observer: str, path: Path,
              placement: Any) -> pd.DataFrame:
    """Canonical frame from per-fixation arrays (screen px, tracker ms), vectorised over all trials.

    Rows are ordered by trial, then EFIX start (then line); ``index`` counts 0, 1, … within a trial.
    """
    from saliency.fixations.table import coerce_frame, empty_frame

    if trial.size == 0:
        return empty_frame()
    trial = trial.astype(np.int64)
    order = np.lexsort((line, start, trial))
    trial, x, y, start, dur, eye, line = (a[order] for a in (trial, x, y, start, dur, eye, line))
    new = np.concatenate(([True], trial[1:] != trial[:-1]))
    pos = np.arange(trial.size)
    index = pos - np.maximum.accumulate(np.where(new, pos, 0))
    keys = ("offset_x_px", "offset_y_px", "scale_x", "scale_y")
    from_img = np.array([t.imgload is not None and t.placement is not None for t in trials])[trial]
    pl = np.array([[t.placement[k] for k in keys] if t.imgload is not None and t.placement is not None
                   else [0.0, 0.0, 1.0, 1.0] for t in trials], dtype=np.float64)[trial]
    xs, ys = (x - pl[:, 0]) / pl[:, 2], (y - pl[:, 1]) / pl[:, 3]
    if placement is not None and (~from_img).any():
        px, py = placement.screen_to_stimulus(x[~from_img], y[~from_img])
        xs[~from_img], ys[~from_img] = np.asarray(px, np.float64), np.asarray(py, np.float64)
    onset = np.array([t.onset_ms for t in trials], dtype=np.float64)[trial]
    frame = pd.DataFrame({
        "dataset": dataset, "stimulus": np.array([t.stimulus for t in trials], dtype=object)[trial],
        "observer": observer, "trial": np.array([t.index for t in trials], dtype=np.int32)[trial],
        "index": index.astype(np.int32), "x": xs, "y": ys, "t_start_ms": start - onset, "duration_ms": dur,
        "eye": eye, "source": [f"{path}:{v}" for v in line.astype(np.int64).tolist()],
    })
    return coerce_frame(frame)[list(COLUMNS)]


def greedy_pairs(overlap: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) with overlap > 0, taken in decreasing overlap (ties: lower i, j first)."""
    if overlap.size == 0:
        return []
    ii, jj = np.nonzero(overlap > 0)
    order = np.lexsort((jj, ii, -overlap[ii, jj]))
    used_i: set[int] = set()
    used_j: set[int] = set()
    pairs = []
    for k in order:
        i, j = int(ii[k]), int(jj[k])
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return pairs


def detected_frame(samples: dict[int, GazeSamples], trials: list[AscTrial], events: str,
                    geometry: ViewingGeometry | None, detection: Mapping[str, float], acc: Accounting,
                    path: Path, dataset: str, observer: str, placement: Any) -> pd.DataFrame:
    from saliency.fixations.detect import DETECTORS

    assert geometry is not None
    detect = DETECTORS[events]
    parts: list[tuple[np.ndarray, ...]] = []
    for tr_i, smp in sorted(samples.items()):
        tr = trials[tr_i]
        try:
            det = detect(smp.time_ms, smp.x_px.astype(np.float64), smp.y_px.astype(np.float64), geometry,
                         **detection)
        except TypeError as exc:
            raise ConfigError(f"detection options {dict(detection)} do not fit detect_fixations_{events}: "
                              f"{exc}") from exc
        if len(det) == 0:
            continue
        src = smp.line[det.first_sample].astype(np.int64)
        if tr.stimulus is None:
            acc.dropped(path, NO_STIMULUS, len(det), example=f"{path}:{int(src[0])}")
            continue
        keep = ~(det.t_start_ms + det.duration_ms < tr.onset_ms)
        if (~keep).any():
            acc.dropped(path, BEFORE_ONSET, int((~keep).sum()))
        k = int(keep.sum())
        parts.append((np.full(k, tr_i, np.int64), det.x_px[keep], det.y_px[keep], det.t_start_ms[keep],
                      det.duration_ms[keep], np.full(k, smp.eye, dtype=object), src[keep]))
    cols = [np.concatenate([q[k] for q in parts]) if parts else np.zeros(0) for k in range(7)]
    return assemble(trials, *cols, dataset, observer, path, placement)

"""Fixation detection from raw gaze samples: I-VT and I-DT (Salvucci & Goldberg, 2000).

Both detectors take one eye's samples of one trial as 1-D arrays of equal length:

    t_ms: (N,) float64, sample times in ms, strictly increasing
    x_px, y_px: (N,) float64, gaze position in *screen* pixels (0-based); NaN = missing (blink, track loss)

and a :class:`saliency.units.ViewingGeometry` for the pixel → degree conversion (positions are
converted with :meth:`ViewingGeometry.px_to_dva`, so thresholds are in degrees of visual angle).
They return :class:`DetectedFixations` (centroids in the same pixels as the input).

Rules shared by both detectors
------------------------------
* **Gaps split fixations.** A sample with a NaN coordinate is never part of a fixation, and two samples
  further apart in time than ``max_gap_factor`` × the median sample interval (dropped samples) never lie
  in the same fixation. Blinks in EyeLink files (``SBLINK``…``EBLINK``) appear as NaN samples.
* **Duration** of a fixation = time of its last sample − time of its first + one sample interval
  (the median interval of the recording), the EyeLink ``EFIX`` convention (a fixation of samples
  1000…1099 at 1 kHz lasts 100 ms). Onset ``t_start_ms`` is the time of its first sample.
* **Centroid** = the mean of the fixation's sample positions (pixels).
* **Merging** (optional, ``merge_max_gap_ms`` / ``merge_max_distance_dva``; ``None`` disables):
  two consecutive fixations separated by at most ``merge_max_gap_ms`` (onset of the second −
  end of the first) whose centroids lie within ``merge_max_distance_dva`` are merged into one, unless
  invalid (NaN) samples lie between them: a blink always separates. Runs of mergeable neighbours are
  merged together. Defaults 75 ms and 0.5° are those of the Tobii I-VT fixation filter
  (Olsen, "The Tobii I-VT fixation filter", Tobii Technology 2012; Komogortsev et al. 2010).
* **Short fixations are discarded** after merging: duration < ``min_duration_ms``.

I-VT (velocity threshold)
    Sample velocity is the central difference ``|p[i+1] − p[i−1]| / (t[i+1] − t[i−1])`` in degrees/s
    (one-sided at the ends and next to gaps). Samples slower than ``velocity_threshold_dva_s`` are
    fixation samples; maximal runs of consecutive fixation samples are fixation candidates.
    Defaults: 30 °/s (Olsen 2012; Salvucci & Goldberg give no fixed value), merge 75 ms / 0.5°,
    minimum duration 60 ms (Olsen 2012).
I-DT (dispersion threshold)
    Salvucci & Goldberg's moving window: a window spanning ``min_duration_ms`` whose dispersion
    ``D = (max x − min x) + (max y − min y)`` (degrees) is ≤ ``dispersion_threshold_dva`` starts a
    fixation; the window grows sample by sample while D stays ≤ the threshold; the fixation is that
    window and the search resumes after it. A window never spans an invalid sample or a time gap.
    Defaults: 1.0°, 100 ms (Salvucci & Goldberg 2000; the defaults of pymovements' ``idt``),
    no merging (the original algorithm has none).

Agreement with pymovements 0.28 (``pymovements.events.idt`` / ``ivt``) on DOVES raw traces is checked
in ``tests/readers_eyelink/test_detect.py``: I-VT boundaries are identical (with merging off and
``min_duration_ms`` + one sample, since pymovements measures offset − onset); I-DT finds the same
fixations, boundaries within two samples, because pymovements keeps the sample that first exceeds
the dispersion threshold inside the fixation and ours does not.

Reference: D. D. Salvucci and J. H. Goldberg, "Identifying fixations and saccades in eye-tracking
protocols", Proc. ETRA 2000, pp. 71–78.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from saliency.errors import ConfigError
from saliency.units import ViewingGeometry


@dataclass(frozen=True)
class DetectedFixations:
    """Detected fixations, one entry per fixation, all arrays of shape (K,).

    x_px, y_px: centroid (input pixels); t_start_ms: first sample time; duration_ms: see module doc;
    first_sample, last_sample: indices into the input arrays (inclusive); n_samples: samples averaged.
    """

    x_px: np.ndarray
    y_px: np.ndarray
    t_start_ms: np.ndarray
    duration_ms: np.ndarray
    first_sample: np.ndarray
    last_sample: np.ndarray

    def __len__(self) -> int:
        return int(self.x_px.shape[0])

    @property
    def n_samples(self) -> np.ndarray:
        return self.last_sample - self.first_sample + 1

    @classmethod
    def empty(cls) -> DetectedFixations:
        f, i = np.zeros(0, np.float64), np.zeros(0, np.int64)
        return cls(f, f.copy(), f.copy(), f.copy(), i, i.copy())


def _check_inputs(t_ms, x_px, y_px) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(t_ms, dtype=np.float64).ravel()
    x = np.asarray(x_px, dtype=np.float64).ravel()
    y = np.asarray(y_px, dtype=np.float64).ravel()
    if not (t.shape == x.shape == y.shape):
        raise ConfigError(f"t_ms, x_px, y_px must have the same length, got {t.shape}, {x.shape}, {y.shape}")
    if t.size and not np.isfinite(t).all():
        raise ConfigError("t_ms must be finite sample times")
    if t.size > 1 and not (np.diff(t) > 0).all():
        raise ConfigError("t_ms must be strictly increasing (one eye, one trial, sorted by time)")
    return t, x, y


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")


def sample_interval_ms(t_ms: np.ndarray) -> float:
    """The median interval between consecutive samples (ms); 1.0 when there are fewer than 2 samples."""
    if t_ms.size < 2:
        return 1.0
    return float(np.median(np.diff(t_ms)))


def _breaks(t: np.ndarray, valid: np.ndarray, dt: float, max_gap_factor: float) -> np.ndarray:
    """brk[i] True where samples i−1 and i may not share a fixation (time gap or either invalid)."""
    brk = np.ones(t.size, dtype=bool)
    if t.size > 1:
        brk[1:] = (np.diff(t) > max_gap_factor * dt) | ~valid[1:] | ~valid[:-1]
    return brk


def _runs(mask: np.ndarray, brk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of True in ``mask`` not crossing a break: (first, last) indices, inclusive."""
    if mask.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    prev = np.concatenate(([False], mask[:-1]))
    starts = np.flatnonzero(mask & (~prev | brk))
    nxt_start = np.zeros(mask.size, dtype=bool)
    nxt_start[starts] = True
    after = np.concatenate((mask[1:] & ~nxt_start[1:], [False]))
    ends = np.flatnonzero(mask & ~after)
    return starts.astype(np.int64), ends.astype(np.int64)


def _finish(t, x, y, valid, first, last, dt, geometry, min_duration_ms, merge_max_gap_ms,
            merge_max_distance_dva) -> DetectedFixations:
    """Merge close neighbours, compute centroids and durations, drop short fixations."""
    if first.size == 0:
        return DetectedFixations.empty()
    csx = np.concatenate(([0.0], np.cumsum(np.where(valid, x, 0.0))))
    csy = np.concatenate(([0.0], np.cumsum(np.where(valid, y, 0.0))))
    bad = np.concatenate(([0], np.cumsum(~valid)))

    def centroids(a, b):
        n = (b - a + 1).astype(np.float64)
        return (csx[b + 1] - csx[a]) / n, (csy[b + 1] - csy[a]) / n

    if merge_max_gap_ms is not None and merge_max_distance_dva is not None and first.size > 1:
        cx, cy = centroids(first, last)
        ax, ay = geometry.px_to_dva(cx, cy)
        gap = t[first[1:]] - (t[last[:-1]] + dt)
        dist = np.hypot(np.diff(ax), np.diff(ay))
        clean = (bad[first[1:]] - bad[last[:-1] + 1]) == 0  # no invalid sample in between
        join = (gap <= merge_max_gap_ms) & (dist <= merge_max_distance_dva) & clean
        keep_first = np.concatenate(([True], ~join))
        keep_last = np.concatenate((~join, [True]))
        first, last = first[keep_first], last[keep_last]
    cx, cy = centroids(first, last)
    t0 = t[first]
    dur = t[last] - t0 + dt
    keep = dur >= min_duration_ms - 1e-9
    return DetectedFixations(cx[keep], cy[keep], t0[keep], dur[keep], first[keep], last[keep])


def detect_fixations_ivt(
    t_ms: np.ndarray,
    x_px: np.ndarray,
    y_px: np.ndarray,
    geometry: ViewingGeometry,
    *,
    velocity_threshold_dva_s: float = 30.0,
    min_duration_ms: float = 60.0,
    merge_max_gap_ms: float | None = 75.0,
    merge_max_distance_dva: float | None = 0.5,
    max_gap_factor: float = 2.5,
) -> DetectedFixations:
    """Velocity-threshold identification (I-VT, Salvucci & Goldberg 2000); rules in the module docstring.

    t_ms, x_px, y_px: (N,) one eye, one trial, screen pixels, NaN = missing. Returns (K,) fixations.
    """
    _positive("velocity_threshold_dva_s", velocity_threshold_dva_s)
    _positive("min_duration_ms", min_duration_ms)
    _positive("merge_max_gap_ms", merge_max_gap_ms, allow_none=True)
    _positive("merge_max_distance_dva", merge_max_distance_dva, allow_none=True)
    t, x, y = _check_inputs(t_ms, x_px, y_px)
    n = t.size
    if n < 2:
        return DetectedFixations.empty()
    valid = np.isfinite(x) & np.isfinite(y)
    dt = sample_interval_ms(t)
    brk = _breaks(t, valid, dt, max_gap_factor)
    ax, ay = geometry.px_to_dva(np.where(valid, x, 0.0), np.where(valid, y, 0.0))
    # neighbours for the central difference; one-sided where the neighbour lies across a break
    idx = np.arange(n)
    lo = np.where(brk, idx, idx - 1)
    hi_ok = np.concatenate((~brk[1:], [False]))
    hi = np.where(hi_ok, idx + 1, idx)
    span = t[hi] - t[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.hypot(ax[hi] - ax[lo], ay[hi] - ay[lo]) / (span / 1000.0)
    # an isolated valid sample (no usable neighbour) has no velocity: not a fixation sample
    slow = valid & (span > 0) & (speed < velocity_threshold_dva_s)
    first, last = _runs(slow, brk)
    return _finish(t, x, y, valid, first, last, dt, geometry, min_duration_ms, merge_max_gap_ms,
                   merge_max_distance_dva)


def detect_fixations_idt(
    t_ms: np.ndarray,
    x_px: np.ndarray,
    y_px: np.ndarray,
    geometry: ViewingGeometry,
    *,
    dispersion_threshold_dva: float = 1.0,
    min_duration_ms: float = 100.0,
    merge_max_gap_ms: float | None = None,
    merge_max_distance_dva: float | None = None,
    max_gap_factor: float = 2.5,
) -> DetectedFixations:
    """Dispersion-threshold identification (I-DT, Salvucci & Goldberg 2000); rules in the module docstring.

    t_ms, x_px, y_px: (N,) one eye, one trial, screen pixels, NaN = missing. Returns (K,) fixations.
    The initial window holds the samples within ``min_duration_ms`` (duration convention of the
    module docstring); window dispersions are computed for all start samples at once, and the loop
    runs once per detected fixation (growing the window in doubling chunks).
    """
    _positive("dispersion_threshold_dva", dispersion_threshold_dva)
    _positive("min_duration_ms", min_duration_ms)
    _positive("merge_max_gap_ms", merge_max_gap_ms, allow_none=True)
    _positive("merge_max_distance_dva", merge_max_distance_dva, allow_none=True)
    t, x, y = _check_inputs(t_ms, x_px, y_px)
    n = t.size
    if n == 0:
        return DetectedFixations.empty()
    valid = np.isfinite(x) & np.isfinite(y)
    dt = sample_interval_ms(t)
    brk = _breaks(t, valid, dt, max_gap_factor)
    ax, ay = geometry.px_to_dva(np.where(valid, x, np.nan), np.where(valid, y, np.nan))
    # end of the initial window of each start sample: last sample with t[e] - t[i] + dt >= min_duration
    end0 = np.searchsorted(t, t + (min_duration_ms - dt) - 1e-9, side="left")
    cand = end0 < n
    end0 = np.minimum(end0, n - 1)
    nbrk = np.cumsum(brk)  # nbrk[e] - nbrk[i] == 0 ⇔ no break inside (i, e]
    cand &= valid & ((nbrk[end0] - nbrk) == 0)
    # dispersion of each initial window via a sparse table (range max/min queries), vectorised
    starts = np.flatnonzero(cand)
    if starts.size:
        disp = _range_dispersion(ax, ay, starts, end0[starts])
        starts = starts[disp <= dispersion_threshold_dva]
    firsts: list[int] = []
    lasts: list[int] = []
    pos = 0  # next sample not yet inside a fixation
    while True:
        k = int(np.searchsorted(starts, pos, side="left"))
        if k >= starts.size:
            break
        i = int(starts[k])
        j = int(end0[i])
        xmin, xmax = np.min(ax[i:j + 1]), np.max(ax[i:j + 1])
        ymin, ymax = np.min(ay[i:j + 1]), np.max(ay[i:j + 1])
        chunk = 16
        while j + 1 < n:
            a, b = j + 1, min(n, j + 1 + chunk)
            cx0 = np.minimum.accumulate(np.minimum(ax[a:b], xmin))
            cx1 = np.maximum.accumulate(np.maximum(ax[a:b], xmax))
            cy0 = np.minimum.accumulate(np.minimum(ay[a:b], ymin))
            cy1 = np.maximum.accumulate(np.maximum(ay[a:b], ymax))
            ok = ((cx1 - cx0) + (cy1 - cy0) <= dispersion_threshold_dva) & ~brk[a:b]
            ok = np.logical_and.accumulate(ok)  # NaN comparisons are False: invalid samples stop growth
            m = int(ok.sum())
            if m:
                j += m
                xmin, xmax, ymin, ymax = cx0[m - 1], cx1[m - 1], cy0[m - 1], cy1[m - 1]
            if m < b - a:
                break
            chunk *= 2
        firsts.append(i)
        lasts.append(j)
        pos = j + 1
    first = np.asarray(firsts, dtype=np.int64)
    last = np.asarray(lasts, dtype=np.int64)
    return _finish(t, x, y, valid, first, last, dt, geometry, min_duration_ms, merge_max_gap_ms,
                   merge_max_distance_dva)


def _range_dispersion(ax: np.ndarray, ay: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(max−min of ax) + (max−min of ay) over the inclusive index ranges [lo, hi] (sparse tables)."""
    out = np.zeros(lo.size, dtype=np.float64)
    length = hi - lo + 1
    level = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    for a in (ax, ay):
        mx, mn = [a], [a]
        p = 1
        while (1 << p) <= int(length.max()):
            half = 1 << (p - 1)
            prev_mx, prev_mn = mx[-1], mn[-1]
            mx.append(np.maximum(prev_mx[:-half], prev_mx[half:]))
            mn.append(np.minimum(prev_mn[:-half], prev_mn[half:]))
            p += 1
        hi_start = hi - (1 << level) + 1
        rmax = np.empty(lo.size)
        rmin = np.empty(lo.size)
        for lv in np.unique(level):
            sel = level == lv
            rmax[sel] = np.maximum(mx[lv][lo[sel]], mx[lv][hi_start[sel]])
            rmin[sel] = np.minimum(mn[lv][lo[sel]], mn[lv][hi_start[sel]])
        out += rmax - rmin
    return out


DETECTORS = {"ivt": detect_fixations_ivt, "idt": detect_fixations_idt}

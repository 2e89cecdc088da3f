"""Compiled (numba) kernels behind :func:`saliency.metrics.fused.score_pysaliency` and the observer baselines.

:func:`map_pass` reads a map (and the ground truth) once, block by block (1024 pixels, kept in L1 cache), and
gathers everything the seven ``pysaliency`` metrics need from full maps:

- the centred sums of squares and cross products (NSS, CC), and with both maps as densities SIM's ``Σ min``
  and KL's ``Σ g · log(g / (p + ε) + ε)`` (where ``g = 0`` the term is exactly 0, as ``0 · log(…)`` in numpy).
  This part is vectorised (re-association allowed within a block, so sums are blocked: partial sums of 1024
  values in SIMD lanes; rounding error grows like a pairwise sum's). The logarithm is computed in the loop
  (:func:`_log`, ≤ 1 ulp from libm on positive normal numbers) rather than by numba's scalar libm call;
- the exact rank counts behind the AUCs (``#{v < u}``, ``#{v = u}`` for each distinct fixated value ``u``)
  without sorting: every value between the lowest and the highest fixated value is bucketed by the leading
  bits of its order-preserving integer key (monotone, so a value in a lower bucket is smaller); each bucket is
  counted, and only the values sharing a bucket with a fixated value are copied out and sorted
  (:class:`RankBuckets`). The shuffled negatives (sorted flat indices) are picked out of each block on the way.

The map itself may be produced in the loop instead of read (``kind``): a plain array, or the observer maps of
:mod:`saliency.baselines` — ``T − M_k`` (all observers but ``k``) or ``M_k``, each bare or as the mixture
``((L / ΣL) · w + C) + u`` — computed element by element in IEEE order (no fast-math), exactly as numpy's
element-wise operations would; :func:`values_at` gives the same values at given pixels.

Against numpy's formulas results differ by relative amounts of order 1e-15 (golden tests: 1e-9 against
pysaliency, 1e-12 fused vs general path). Rank counts are integers, exact.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_BLOCK = 1024
_RUN = 32  # pixels of a SIM/KL run that is skipped where the ground truth is 0 throughout
_LOG2_BUCKETS = 12


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def block_sum(a: np.ndarray) -> float:  # pragma: no cover - compiled
    """Σ a of a flat float32/float64 array in float64, blocked like the pair pass (vectorised; a NaN or ±inf
    anywhere makes it non-finite)."""
    s = 0.0
    for start in range(0, a.size, _BLOCK):
        blk = a[start:start + _BLOCK]     # a view indexed from 0: LLVM sees non-negative indices and vectorises
        b = 0.0
        for i in range(blk.size):
            b += np.float64(blk[i])
        s += b
    return s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def block_sum_u16(q: np.ndarray, factor: np.float32) -> float:  # pragma: no cover - compiled
    """Σ float32(float32(q) · factor) of a flat uint16 array in float64, blocked like :func:`block_sum` (the sum
    of the float32 density a quantised map stands for, without making it)."""
    s = 0.0
    for start in range(0, q.size, _BLOCK):
        blk = q[start:start + _BLOCK]
        b = 0.0
        for i in range(blk.size):
            b += np.float64(np.float32(blk[i]) * factor)
        s += b
    return s


@numba.njit(cache=True, nogil=True)
def is_sorted(a: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether a 1-D array is in ascending order (one vectorised pass)."""
    bad = 0
    for i in range(1, a.size):
        bad += a[i] < a[i - 1]
    return bad == 0


def sum_min(a: np.ndarray) -> tuple[float, float]:
    """(Σ a, min a) in float64: the compiled blocked sum and numpy's (vectorised) minimum."""
    return block_sum(a), float(a.min())


@numba.njit(cache=True, nogil=True)
def _bucket_pass(bits: np.ndarray, sign: np.uint64, mask: np.uint64, klo: np.uint64, shift: np.uint64,
                 marks: np.ndarray, hist: np.ndarray, buf: np.ndarray) -> tuple[int, int]:  # pragma: no cover
    """Count the keys below ``klo``; bucket the others by ``(key − klo) >> shift`` (the last slot of ``hist``
    gathers every bucket past it and the keys below ``klo``; never marked); copy the keys of marked buckets to ``buf``. Runs of one
    bucket (smooth maps) are counted in a register before they are added to ``hist``."""
    below = 0
    k = 0
    last = np.uint64(hist.size - 1)
    cur = last
    run = 0
    for i in range(bits.size):
        b = np.uint64(bits[i])
        if b & sign:
            key = sign if b == sign else (~b) & mask        # negative floats; −0 is +0
        else:
            key = b | sign
        lo = key < klo
        below += lo
        j = last if lo else min((key - klo) >> shift, last)
        if j != cur:
            hist[cur] += run
            cur = j
            run = 0
        run += 1
        if marks[j]:
            buf[k] = key
            k += 1
    hist[cur] += run
    return below, k


_KEY_TYPES = {np.dtype(np.float32): (np.uint32, np.uint64(0x80000000), np.uint64(0xFFFFFFFF)),
              np.dtype(np.float64): (np.uint64, np.uint64(0x8000000000000000), np.uint64(0xFFFFFFFFFFFFFFFF))}


_EMPTY_VALUES = np.empty(0)
_EMPTY_INDICES = np.empty(0, np.int64)


def _keys(values: np.ndarray) -> np.ndarray:
    """Order-preserving unsigned keys of float values (−0 and +0 share one key), numpy's version of the
    kernels'."""
    utype, sign, mask = _KEY_TYPES[values.dtype]
    b = values.view(utype).astype(np.uint64)
    neg = (b & sign) != 0
    return np.where(neg, np.where(b == sign, sign, (~b) & mask), b | sign)


class RankBuckets:
    """Buckets prepared from the positives (fixated values) for one or more bucketing passes.

    positives: values in the dtype the pass keys (float32 for :func:`rank_counts` of a float32 map, float64
    in :func:`map_pass`). ``klo``, ``shift``, ``marks`` configure the pass; :meth:`buffers` gives each pass its
    histogram and key buffer; :meth:`finish` turns a pass's output into per-positive counts. Set-up and
    finish are compiled (a few calls each: per image they hold the GIL for microseconds).
    """

    def __init__(self, positives: np.ndarray, workspace=None, negatives: np.ndarray | None = None) -> None:
        """negatives: int64 flat indices a pass will bucket, checked for ascending order in the same compiled
        call (:attr:`negatives_sorted`; float64 positives)."""
        pos = np.asarray(positives)
        self.dtype = pos.dtype
        if pos.dtype == np.float64:
            neg = _EMPTY_INDICES if negatives is None else negatives
            (self.ukeys, self.slot, first, self.ub, self.shift, self.marks,
             self.negatives_sorted) = _prepare_f64(pos, neg, _LOG2_BUCKETS)
        else:
            if negatives is not None:
                raise ValueError("negatives are checked with float64 positives only")
            self.ukeys, self.slot, first, self.ub, self.shift, self.marks = _prepare(_keys(pos), _LOG2_BUCKETS)
            self.negatives_sorted = True
        self.klo = self.ukeys[0]
        self.nb = self.marks.size                                 # incl. the slot past the last bucket
        self.ws = workspace
        self.few = pos[first].astype(np.float64) if first.size <= FEW else np.empty(0)   # ascending, distinct

    def few_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Zeroed (less, equal) counters of the distinct positives for the comparison mode."""
        return np.zeros(self.few.size, np.int64), np.zeros(self.few.size, np.int64)

    def finish_few(self, less_u: np.ndarray, eq_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-positive counts from the comparison mode's per-distinct-value counts."""
        return less_u[self.slot], eq_u[self.slot]

    def _get(self, name: str, n: int, dtype) -> np.ndarray:
        return self.ws.get(name, n, dtype) if self.ws is not None else np.empty(max(n, 1), dtype)[:n]

    def buffers(self, tag: str, n_values: int, lanes: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(zeroed histogram (``lanes`` interleaved copies), key buffer for up to ``n_values`` keys) of one
        pass."""
        hist = self._get(f"rank_hist_{tag}", lanes * self.nb, np.int64)
        hist[:] = 0
        return hist, self._get(f"rank_buf_{tag}", n_values, np.uint64)

    def finish(self, below: int, hist: np.ndarray, buf: np.ndarray, k: int,
               exclude: np.ndarray = _EMPTY_VALUES) -> tuple[np.ndarray, np.ndarray]:
        """(#{values < p}, #{values = p}) for each positive from one pass's output (``buf[:k]`` is sorted in
        place). exclude: float64 values among the pass's that do not count (float64 positives only)."""
        if exclude.size and self.dtype != np.float64:
            raise ValueError("excluded values need float64 positives")
        kept = buf[:k]
        kept.sort()              # numpy's sort (SIMD) is faster than the compiled one
        return _finish_counts(kept, hist, self.nb, self.marks, self.ub, self.ukeys, below, self.slot,
                              np.asarray(exclude, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _keys_f64(values: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """:func:`_keys` of float64 values, compiled."""
    out = np.empty(values.size, np.uint64)
    for i in range(values.size):
        out[i] = _key64(values[i])
    return out


@numba.njit(cache=True, nogil=True)
def _prepare_f64(positives: np.ndarray, negatives: np.ndarray, log2_buckets: int) -> tuple:  # pragma: no cover
    """:func:`_prepare` of float64 positives' keys, and whether ``negatives`` are in ascending order."""
    ukeys, slot, first, ub, shift, marks = _prepare(_keys_f64(positives), log2_buckets)
    return ukeys, slot, first, ub, shift, marks, is_sorted(negatives)


@numba.njit(cache=True, nogil=True)
def _prepare(keys: np.ndarray, log2_buckets: int) -> tuple:  # pragma: no cover - compiled
    """(distinct keys ascending, each key's slot among them, the first position of each distinct key, the
    bucket of each distinct key, the shift, the marked buckets (+ one unmarked slot past the last)) of
    order-preserving keys (≥ 1): buckets are the keys' offsets from the lowest shifted right until the span
    fits ``log2_buckets`` bits."""
    order = np.argsort(keys, kind="mergesort")
    n = keys.size
    slot = np.empty(n, np.int64)
    distinct = 1
    for i in range(1, n):
        distinct += keys[order[i]] != keys[order[i - 1]]
    ukeys = np.empty(distinct, np.uint64)
    first = np.empty(distinct, np.int64)
    d = -1
    for i in range(n):
        k = keys[order[i]]
        if d < 0 or k != ukeys[d]:
            d += 1
            ukeys[d] = k
            first[d] = order[i]
        slot[order[i]] = d
    klo = ukeys[0]
    span = ukeys[-1] - klo
    bits = 0
    while bits < 64 and (span >> np.uint64(bits)) != 0:
        bits += 1
    shift = np.uint64(max(0, bits - log2_buckets))
    ub = np.empty(distinct, np.int64)
    for q in range(distinct):
        ub[q] = np.int64((ukeys[q] - klo) >> shift)
    marks = np.zeros(ub[-1] + 2, np.bool_)
    for q in range(distinct):
        marks[ub[q]] = True
    return ukeys, slot, first, ub, shift, marks


@numba.njit(cache=True, nogil=True)
def _finish_counts(kept: np.ndarray, hist: np.ndarray, nb: int, marks: np.ndarray, ub: np.ndarray,
                   ukeys: np.ndarray, below: int, slot: np.ndarray,
                   exclude: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """Per-positive (less, equal) counts: :func:`_finish` (``kept`` sorted), minus the counts of the excluded
    float64 values, gathered by ``slot``."""
    less_u = np.empty(ukeys.size, np.int64)
    eq_u = np.empty(ukeys.size, np.int64)
    _finish(kept, hist, nb, marks, ub, ukeys, below, less_u, eq_u)
    if exclude.size:
        ex = _keys_f64(exclude)
        ex.sort()
        for q in range(ukeys.size):
            lo = np.searchsorted(ex, ukeys[q], side="left")
            less_u[q] -= lo
            eq_u[q] -= np.searchsorted(ex, ukeys[q], side="right") - lo
    less = np.empty(slot.size, np.int64)
    eq = np.empty(slot.size, np.int64)
    for i in range(slot.size):
        less[i] = less_u[slot[i]]
        eq[i] = eq_u[slot[i]]
    return less, eq


@numba.njit(cache=True, nogil=True)
def _finish(kept: np.ndarray, hist: np.ndarray, nb: int, marks: np.ndarray, ub: np.ndarray, ukeys: np.ndarray,
            below: int, less_u: np.ndarray, eq_u: np.ndarray) -> None:  # pragma: no cover - compiled
    """Counts of each distinct positive key (ascending, in bucket ``ub``): below ``klo`` + every value in
    unmarked buckets before its own + the sorted kept keys (marked buckets) below / equal to it.
    ``hist`` may hold several histograms of ``nb`` slots each, one after the other: they are added into the
    first in place (vectorised) before the walk."""
    total = hist[:nb]
    for lane in range(1, hist.size // nb):
        other = hist[lane * nb:(lane + 1) * nb]
        for b in range(nb):
            total[b] += other[b]
    unmarked = 0
    q = 0
    for b in range(nb):
        if q == ub.size:
            break
        while q < ub.size and ub[q] == b:
            lo = np.searchsorted(kept, ukeys[q], side="left")
            hi = np.searchsorted(kept, ukeys[q], side="right")
            less_u[q] = below + unmarked + lo
            eq_u[q] = hi - lo
            q += 1
        if not marks[b]:
            unmarked += total[b]


def rank_counts(values: np.ndarray, positives: np.ndarray, workspace=None) -> tuple[np.ndarray, np.ndarray]:
    """(#{values < p}, #{values = p}) for each positive (int64 arrays like ``positives``), exact.

    values: flat float32/float64 (finite); positives: values of the same dtype. One compiled pass; only the
    values sharing a bucket with some positive are sorted. workspace: buffers reused across calls."""
    values = np.ascontiguousarray(values)
    pos = np.asarray(positives, dtype=values.dtype)
    if pos.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    utype, sign, mask = _KEY_TYPES[values.dtype]
    rb = RankBuckets(pos, workspace)
    hist, buf = rb.buffers("values", values.size)
    below, k = _bucket_pass(values.view(utype), sign, mask, rb.klo, rb.shift, rb.marks, hist, buf)
    return rb.finish(below, hist, buf, k)


# ------------------------------------------------------------------------------------------ the map pass
@intrinsic
def _f2i(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float64 as int64 (an LLVM bitcast, vectorisable)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, x):  # pragma: no cover - compiled
    """The float64 with the bits of an int64 (an LLVM bitcast, vectorisable)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


_SQRT2 = math.sqrt(2.0)
_LN2_HI = 6.93147180369123816490e-01      # ln 2 split as in fdlibm's log
_LN2_LO = 1.90821492927058770002e-10


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _log(x: float) -> float:  # pragma: no cover - compiled
    """Natural log of a positive normal float64 (fdlibm's reduction to m ∈ (√½, √2], atanh series to s²¹):
    within 1 ulp of libm's; plain arithmetic, so loops calling it vectorise."""
    bits = _f2i(x)
    e = np.float64(bits >> 52) - 1023.0
    m = _i2f((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    r = z * (2 / 3 + z * (2 / 5 + z * (2 / 7 + z * (2 / 9 + z * (2 / 11 + z * (2 / 13 + z * (
        2 / 15 + z * (2 / 17 + z * (2 / 19 + z * (2 / 21 + z * (2 / 23)))))))))))
    hfsq = 0.5 * f * f
    return e * _LN2_HI - ((hfsq - (s * (hfsq + r) + e * _LN2_LO)) - f)


#: Map kinds of :func:`map_pass` / :func:`values_at`: the array ``a``; ``T − M`` (all observers but one);
#: its mixture ``((T − M) / s · w + C) + u``; ``M`` (one observer); its mixture ``((M / s) · w + C) + u``.
PLAIN, LEAVE_OUT, LEAVE_OUT_MIX, OWN, OWN_MIX = 0, 1, 2, 3, 4
#: Ground-truth kinds: none, the array ``g``, ``T − M``, the uint16 array ``g`` times the float32 ``g_factor``
#: (a quantised shard map: ``float32(float32(g) · g_factor)``, the values of ``ShardSet.density``).
G_NONE, G_PLAIN, G_LEAVE_OUT, G_U16 = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _produce(kind: int, start: int, stop: int, a: np.ndarray, t: np.ndarray, mk: np.ndarray, c: np.ndarray,
             count: np.ndarray, s_src: float, w_obs: float, uniform: float,
             out: np.ndarray) -> int:  # pragma: no cover - compiled
    """out[:stop − start] = the map of ``kind`` at pixels start … stop − 1 (IEEE order, no fast-math); returns
    1 if a leave-out kind lost another observer's contribution there (``T − M == 0`` while ``count`` says
    another observer's map is positive), else 0."""
    lost = 0
    m = stop - start                 # views indexed from 0: non-negative indices, so the loops vectorise
    if kind == PLAIN:
        av = a[start:stop]
        for i in range(m):
            out[i] = np.float64(av[i])
    elif kind == LEAVE_OUT:
        tv, mkv, cnt = t[start:stop], mk[start:stop], count[start:stop]
        for i in range(m):
            mv = mkv[i]
            v = tv[i] - mv
            out[i] = v
            lost |= np.int32(v == 0.0) & np.int32(cnt[i] > np.int32(mv > 0.0))
    elif kind == LEAVE_OUT_MIX:
        tv, mkv, cv, cnt = t[start:stop], mk[start:stop], c[start:stop], count[start:stop]
        for i in range(m):
            mv = mkv[i]
            v = tv[i] - mv
            out[i] = ((v / s_src) * w_obs + cv[i]) + uniform
            lost |= np.int32(v == 0.0) & np.int32(cnt[i] > np.int32(mv > 0.0))
    elif kind == OWN:
        mkv = mk[start:stop]
        for i in range(m):
            out[i] = mkv[i]
    else:
        mkv, cv = mk[start:stop], c[start:stop]
        for i in range(m):
            out[i] = ((mkv[i] / s_src) * w_obs + cv[i]) + uniform
    return lost


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _produce_u16(start: int, stop: int, q: np.ndarray, factor: np.float32,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[:stop − start] = float32(float32(q) · factor) at pixels start … stop − 1, as float64."""
    qv = q[start:stop]
    for i in range(stop - start):
        out[i] = np.float64(np.float32(qv[i]) * factor)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def values_at(kind: int, idx: np.ndarray, a: np.ndarray, t: np.ndarray, mk: np.ndarray, c: np.ndarray,
              count: np.ndarray, s_src: float, w_obs: float, uniform: float) -> np.ndarray:  # pragma: no cover
    """(len(idx),) float64 values of the map of ``kind`` at flat indices ``idx``, exactly as the pass sees them."""
    out = np.empty(idx.size)
    one = np.empty(1)
    for j in range(idx.size):
        _produce(kind, idx[j], idx[j] + 1, a, t, mk, c, count, s_src, w_obs, uniform, one)
        out[j] = one[0]
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _pair_block(mb: np.ndarray, gb: np.ndarray, n: int, p_mean: float, p_shift: float, p_inv: float,
                p_add: float, g_mean: float, g_shift: float, g_inv: float, g_add: float, g_kind: int,
                want_densities: bool, eps: float) -> tuple[float, float, float, float, float]:  # pragma: no cover
    """Block sums (Σ(p−p̄)², Σ(g−ḡ)², Σ(p−p̄)(g−ḡ), Σ min(pd, gd), Σ gd·log(gd/(pd+ε)+ε)), vectorised."""
    bp = bg = bc = bs = bk = 0.0
    if g_kind == G_NONE:
        for i in range(n):
            dp = mb[i] - p_mean
            bp += dp * dp
        return bp, bg, bc, bs, bk
    for i in range(n):
        dp = mb[i] - p_mean
        dg = gb[i] - g_mean
        bp += dp * dp
        bg += dg * dg
        bc += dp * dg
    if want_densities:
        # SIM and KL in runs of _RUN pixels; a run where gd = 0 throughout adds exactly 0 to both (min(pd, 0) = 0
        # with pd ≥ 0; 0 · log ε = 0) and is skipped (≈ 30 % of an OSIE map lies beyond the blurred fixations)
        skip = g_add == 0.0
        for r0 in range(0, n, _RUN):
            mr = mb[r0:min(r0 + _RUN, n)]
            gr = gb[r0:min(r0 + _RUN, n)]
            if skip:
                nz = 0
                for i in range(gr.size):
                    nz += gr[i] != g_shift
                if nz == 0:
                    continue
            for i in range(gr.size):
                pd = (mr[i] - p_shift) * p_inv + p_add
                gd = (gr[i] - g_shift) * g_inv + g_add
                bs += min(pd, gd)
                bk += gd * _log(gd / (pd + eps) + eps)      # gd = 0 → 0 · log ε = 0
    return bp, bg, bc, bs, bk


#: At most this many distinct positives: all-pixel ranks by direct comparison (vectorised) instead of buckets.
FEW = 16


@numba.njit(cache=True, nogil=True)
def _count_few(mb: np.ndarray, n: int, few: np.ndarray, less: np.ndarray,
               eq: np.ndarray) -> None:  # pragma: no cover - compiled
    """less[j] += #{mb[:n] < few[j]}, eq[j] += #{mb[:n] == few[j]} (each a vectorised count)."""
    for j in range(few.size):
        u = few[j]
        cl = 0
        ce = 0
        for i in range(n):
            v = mb[i]
            cl += v < u
            ce += v == u
        less[j] += cl
        eq[j] += ce


@numba.njit(cache=True, nogil=True)
def _bucket_block(mb: np.ndarray, n: int, klo: np.uint64, shift: np.uint64, last: np.uint64,
                  jb: np.ndarray) -> int:  # pragma: no cover - compiled
    """jb[i] = bucket of mb[i] (``last`` below ``klo`` or past the last bucket); returns #{keys < klo}.
    Branch-free, so it vectorises; the histogram is then counted from ``jb``."""
    sign = np.uint64(0x8000000000000000)
    below = 0
    for i in range(n):
        b = np.uint64(_f2i(mb[i]))
        neg = b >= sign
        key = (sign if b == sign else ~b) if neg else (b | sign)
        lo = key < klo
        below += lo
        jb[i] = last if lo else min((key - klo) >> shift, last)
    return below


@numba.njit(cache=True, nogil=True)
def _key64(v: float) -> np.uint64:  # pragma: no cover - compiled
    b = np.uint64(_f2i(v))
    sign = np.uint64(0x8000000000000000)
    if b & sign:
        return sign if b == sign else ~b                 # negative floats; −0 is +0
    return b | sign


@numba.njit(cache=True, nogil=True, error_model="numpy")
def map_pass(kind: int, a: np.ndarray, t: np.ndarray, mk: np.ndarray, c: np.ndarray, count: np.ndarray,
             s_src: float, w_obs: float, uniform: float, g_kind: int, g: np.ndarray, p_mean: float, p_shift: float,
             p_total: float, g_mean: float, g_shift: float, g_total: float, want_densities: bool, eps: float,
             rank_all: bool, neg_idx: np.ndarray, klo: np.uint64, shift: np.uint64, marks: np.ndarray,
             hist_all: np.ndarray, buf_all: np.ndarray, hist_neg: np.ndarray, buf_neg: np.ndarray,
             few: np.ndarray, few_less: np.ndarray, few_eq: np.ndarray,
             want_stats: bool = True, g_factor: np.float32 = np.float32(1.0)) -> tuple:  # pragma: no cover
    """One pass over a map of ``n`` pixels; returns (Σ(p−p̄)², Σ(g−ḡ)², Σ(p−p̄)(g−ḡ), Σ min, KL sum,
    below_all, k_all, below_neg, k_neg, lost).

    kind / a, t, mk, c, s_src, w_obs, uniform: the map (module docstring; ``a`` float32/float64 for PLAIN).
    count: observers with a positive map per pixel (uint8/int32; leave-out kinds: ``lost`` is 1 where ``T − M``
    lost another observer's contribution to rounding). g_kind / g (and g_factor for :data:`G_U16`): the ground
    truth. Densities are ``(v − shift) / total`` (``1/n`` where total is 0). rank_all: bucket every pixel into ``hist_all`` /
    ``buf_all``; neg_idx: ascending flat indices of the shuffled negatives, bucketed into ``hist_neg`` /
    ``buf_neg`` (empty: none); ``hist_all`` holds 4 interleaved histograms (4 × ``marks.size``; summed by
    :meth:`RankBuckets.finish`). klo, shift, marks: :class:`RankBuckets`. few: the distinct positives when
    there are at most :data:`FEW` of them (else empty): every pixel is then compared with each instead of
    bucketed, counts added to ``few_less`` / ``few_eq``. Without ``want_stats`` only the ranks are taken
    (the sums come back 0).
    """
    n = t.size if kind != PLAIN else a.size
    inv_n = 1.0 / n
    p_inv = 1.0 / p_total if p_total != 0.0 else 0.0
    p_add = 0.0 if p_total != 0.0 else inv_n
    g_inv = 1.0 / g_total if g_total != 0.0 else 0.0
    g_add = 0.0 if g_total != 0.0 else inv_n
    mb = np.empty(_BLOCK)
    gb = np.empty(_BLOCK)
    jb = np.empty(_BLOCK, np.uint64)
    ss = ssg = cross = sim = kl = 0.0
    slots = marks.size
    last = np.uint64(slots - 1)
    below_all = k_all = below_neg = k_neg = 0
    lost = 0
    jn = 0
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        nb = stop - start
        lost |= _produce(kind, start, stop, a, t, mk, c, count, s_src, w_obs, uniform, mb)
        if g_kind == G_PLAIN:
            _produce(PLAIN, start, stop, g, t, mk, c, count, 1.0, 1.0, 0.0, gb)
        elif g_kind == G_LEAVE_OUT:
            lost |= _produce(LEAVE_OUT, start, stop, a, t, mk, c, count, 1.0, 1.0, 0.0, gb)
        elif g_kind == G_U16:
            _produce_u16(start, stop, g, g_factor, gb)
        if want_stats:
            bp, bg, bc, bs, bk = _pair_block(mb, gb, nb, p_mean, p_shift, p_inv, p_add, g_mean, g_shift, g_inv,
                                             g_add, g_kind, want_densities, eps)
            ss += bp
            ssg += bg
            cross += bc
            sim += bs
            kl += bk
        if rank_all and few.size:
            _count_few(mb, nb, few, few_less, few_eq)
        elif rank_all:
            below = _bucket_block(mb, nb, klo, shift, last, jb)
            below_all += below
            for i in range(nb if below < nb else 0):    # 4 interleaved histograms: runs of one bucket do not
                j = jb[i]                                # wait on a store; a block wholly below klo is skipped
                if j == last:            # below the lowest positive (≈ 70 % of an OSIE map; in runs) or past
                    continue             # the highest: the last slot is never read
                hist_all[(i & 3) * slots + j] += 1
                if marks[j]:
                    buf_all[k_all] = _key64(mb[i])
                    k_all += 1
        while jn < neg_idx.size and neg_idx[jn] < stop:   # branch-free: negatives are scattered, unpredictable
            key = _key64(mb[neg_idx[jn] - start])
            jn += 1
            lo = key < klo
            below_neg += lo
            j = last if lo else min((key - klo) >> shift, last)   # the last slot is never read
            hist_neg[j] += 1
            buf_neg[k_neg] = key              # kept where the bucket is marked (k_neg < jn ≤ the buffer's size)
            k_neg += marks[j]
    return ss, ssg, cross, sim, kl, below_all, k_all, below_neg, k_neg, lost


_EMPTY_F = np.empty(0)
_EMPTY_I32 = np.empty(0, np.int32)
_EMPTY_I64 = np.empty(0, np.int64)
_NO_MARKS = np.zeros(1, np.bool_)


def pair_stats(p: np.ndarray, p_mean: float, p_shift: float, p_total: float, g: np.ndarray, g_mean: float,
               g_shift: float, g_total: float, want_pair: bool, eps: float,
               want_densities: bool = True) -> tuple[float, float, float, float, float]:
    """(Σ(p−p̄)², Σ(g−ḡ)², Σ(p−p̄)(g−ḡ), Σ min(pd, gd), Σ gd·log(gd/(pd+ε)+ε)) of flat float32/float64 maps
    with ``pd = (p − p_shift) / p_total`` (``1/n`` everywhere if ``p_total`` is 0), likewise gd (:func:`map_pass`
    without ranks). Without ``want_pair`` only the first sum is computed and ``g`` is not read; without
    ``want_densities`` SIM and KL are not (returned as 0)."""
    hist = np.zeros(1, np.int64)
    r = map_pass(PLAIN, np.ascontiguousarray(p), _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_I32, 1.0, 1.0, 0.0,
                 G_PLAIN if want_pair else G_NONE, np.ascontiguousarray(g) if want_pair else _EMPTY_F, p_mean,
                 p_shift, p_total, g_mean, g_shift, g_total, want_densities, eps, False, _EMPTY_I64,
                 np.uint64(0), np.uint64(0), _NO_MARKS, hist, np.empty(1, np.uint64), hist, np.empty(1, np.uint64),
                 _EMPTY_F, _EMPTY_I64, _EMPTY_I64)
    return r[0], r[1], r[2], r[3], r[4]

"""Compiled (numba) kernels of the baselines: the shared observer maps of :mod:`saliency.baselines.observers`
scored by :func:`observer_sweep`, the ``centre_loo`` map (:func:`subtract_clipped`) and the EM step of the
mixture fit (:func:`em_responsibility_sums`).

The sum ``T`` of the observers' own blurred maps ``M_k`` (added in observer order) and the number of
observers whose map is positive at each pixel (``count``) are kept (:func:`observer_totals`). The map of all
observers but ``k`` is then ``T − M_k``, formed inside :func:`observer_sweep`, instead of a blur of the other
observers' fixations. With non-negative blur kernels this keeps the zeros exactly: where no other observer
contributes, ``T`` was formed
by adding exact zeros to ``M_k``, so ``T − M_k`` is exactly 0, as the direct blur is; and ``T ≥ M_k`` holds
in floating point (rounding is monotone), so it is never negative. Where another observer does contribute
but its part was absorbed in rounding (``T − M_k == 0`` with ``count − [M_k > 0] > 0``), the pass
reports it and the caller blurs directly. Elsewhere values differ from the direct blur by rounding only.

The maps ``M_k`` are never stored: :func:`blur_row` makes a row of one when it is needed (in
:func:`observer_totals` and in each sweep), with the bits of the BLAS product ``ShardBlur.blur`` uses, from
the fixations' row and column responses (a few hundred kB per image instead of 15 maps of 3.8 MB written
and read back three times). ``T`` and ``count`` are updated element by element (IEEE order); each map's sum
is taken in blocks of 1024 pixels, reduced with re-association allowed (vectorised; sums differ from
numpy's by rounding, relative ≈ 1e-16) and added up block by block.
"""

from __future__ import annotations

import numba
import numpy as np

from saliency.metrics.jit import G_NONE, G_PLAIN, _bucket_block, _count_few, _key64, _log, _pair_block

_BLOCK = 1024


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum(a: np.ndarray, start: int, stop: int) -> float:  # pragma: no cover - compiled
    s = 0.0
    for i in range(start, stop):
        s += a[i]
    return s


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def blur_row(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, clo: np.ndarray, chi: np.ndarray,
             j0: int, j1: int, r: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out = row ``r`` of the observer map ``Σ_j a[j]ᵀ ⊗ b[j]`` over fixations ``j0 … j1 − 1`` (``a[j]``: the
    row response times the fixation's weight, (H,); ``b[j]``: the column response, (W,)), made as BLAS's
    ``matmul(aᵀ, b)`` makes it: per pixel a chain of fused multiply-adds over the fixations in order,
    from 0. Terms whose row response is 0 at ``r`` (outside ``lo[j] … hi[j]``) or whose column response is
    0 (outside ``clo[j] … chi[j]``) add exactly nothing (every term is ≥ 0) and are skipped. Bit-identical
    to ``numpy.matmul`` with OpenBLAS on all 10,500 OSIE observer maps."""
    for c in range(out.size):
        out[c] = 0.0
    for j in range(j0, j1):
        if lo[j] <= r and r <= hi[j]:
            aj = a[j, r]
            ov = out[clo[j]:chi[j] + 1]
            bv = b[j, clo[j]:chi[j] + 1]
            for c in range(ov.size):
                ov[c] = ov[c] + aj * bv[c]


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def blur_at(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, j0: int, j1: int, idx: np.ndarray,
            width: int) -> np.ndarray:  # pragma: no cover - compiled
    """The values of :func:`blur_row`'s map at flat pixels ``idx`` (the same chains)."""
    out = np.empty(idx.size)
    for q in range(idx.size):
        r = idx[q] // width
        c = idx[q] - r * width
        acc = 0.0
        for j in range(j0, j1):
            if lo[j] <= r and r <= hi[j]:
                acc = acc + a[j, r] * b[j, c]
        out[q] = acc
    return out


@numba.njit(cache=True, nogil=True)
def subtract_clipped(total: np.ndarray, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     clo: np.ndarray, chi: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out = clip(total − Σ_j a[j]ᵀ ⊗ b[j], 0) (2-D (H, W)), the blur made row by row by :func:`blur_row`
    and clipped as ``numpy.clip(·, 0, None)`` clips (negative → +0)."""
    row = np.empty(out.shape[1])
    for r in range(out.shape[0]):
        blur_row(a, b, lo, hi, clo, chi, 0, a.shape[0], r, row)
        tv = total[r]
        ov = out[r]
        for c in range(row.size):
            v = tv[c] - row[c]
            ov[c] = v if v > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def observer_totals(a: np.ndarray, b: np.ndarray, fptr: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    clo: np.ndarray, chi: np.ndarray, total: np.ndarray, count: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``total = Σ_k M_k`` (sets in order, element by element) and ``count = Σ_k (M_k > 0)`` (flat (H·W)
    arrays) of the observer maps ``M_k`` of fixations ``fptr[k] … fptr[k + 1] − 1`` (:func:`blur_row`, made
    row by row, never stored); returns each map's sum, blocked as described above (the values of each
    1024-pixel block gathered, then reduced by :func:`_sum`)."""
    n_sets = fptr.size - 1
    width = b.shape[1]
    h = total.size // width
    sums = np.zeros(n_sets)
    blk = np.empty((n_sets, _BLOCK))
    row = np.empty(width)
    fill = 0
    for r in range(h):
        tv = total[r * width:(r + 1) * width]
        cv = count[r * width:(r + 1) * width]
        tv[:] = 0.0
        cv[:] = 0
        f = fill
        for k in range(n_sets):
            blur_row(a, b, lo, hi, clo, chi, fptr[k], fptr[k + 1], r, row)
            for i in range(width):
                v = row[i]
                tv[i] += v
                cv[i] += np.int32(v > 0.0)
            f = fill
            pos = 0
            while pos < width:
                take = min(_BLOCK - f, width - pos)
                blk[k, f:f + take] = row[pos:pos + take]
                f += take
                pos += take
                if f == _BLOCK:
                    sums[k] += _sum(blk[k], 0, _BLOCK)
                    f = 0
        fill = f
    if fill:
        for k in range(n_sets):
            sums[k] += _sum(blk[k], 0, fill)
    return sums


@numba.njit(cache=True, nogil=True)
def em_responsibility_sums(c: np.ndarray, w: np.ndarray, mix: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Σ_i c[i, j] · (w[j] / mix[i]) per column j, added row after row: the bits of numpy's
    ``(c * (w / mix[:, None])).sum(axis=0)`` (element-wise products, then a sequential reduction over
    axis 0 of the C-contiguous product), with no (N, K) temporaries. One EM step of
    :func:`saliency.baselines.mixture.fit_mixture_weights`. With three columns the products are formed a
    block at a time and each column's sum runs in a register."""
    n, k = c.shape
    out = np.zeros(k)
    if k != 3:
        for i in range(n):
            for j in range(k):
                out[j] += c[i, j] * (w[j] / mix[i])
        return out
    s0 = s1 = s2 = 0.0
    w0, w1, w2 = w[0], w[1], w[2]
    t0, t1, t2 = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for i in range(m):
            d = mix[start + i]
            t0[i] = c[start + i, 0] * (w0 / d)
            t1[i] = c[start + i, 1] * (w1 / d)
            t2[i] = c[start + i, 2] * (w2 / d)
        for i in range(m):
            s0 += t0[i]
            s1 += t1[i]
            s2 += t2[i]
    out[0], out[1], out[2] = s0, s1, s2
    return out


# --------------------------------------------------------------------- all observer sets of one image, one sweep
@numba.njit(cache=True, nogil=True)
def _dev_sums(p: np.ndarray, g: np.ndarray, pm: float, gm: float,
              pair: bool) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """(Σ(p − pm)², Σ(g − gm)², Σ(p − pm)(g − gm)) of two equal-length views (vectorised, by
    :func:`saliency.metrics.jit._pair_block`; without ``pair`` only the first, ``g`` not read)."""
    r = _pair_block(p, g, p.size, pm, 0.0, 1.0, 0.0, gm, 0.0, 1.0, 0.0, G_PLAIN if pair else G_NONE, False, 0.0)
    return r[0], r[1], r[2]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _sim_kl(p: np.ndarray, g: np.ndarray, p_inv: float, g_inv: float,
            eps: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """(Σ min(pd, gd), Σ gd·log(gd/(pd+ε)+ε)) with ``pd = p · p_inv``, ``gd = g · g_inv`` (vectorised)."""
    s = k = 0.0
    for i in range(p.size):
        pd = p[i] * p_inv
        gd = g[i] * g_inv
        s += min(pd, gd)
        k += gd * _log(gd / (pd + eps) + eps)
    return s, k


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _sim_log_p(p: np.ndarray, gd: np.ndarray, p_inv: float,
               eps: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """(Σ min(pd, gd), Σ gd·log(pd + ε)) with ``pd = p · p_inv`` (vectorised): KL's sum is then
    Σ gd·log gd − the second (:func:`_g_log_g`), the ground truth's part made once for all maps."""
    s = k = 0.0
    for i in range(p.size):
        pd = p[i] * p_inv
        g = gd[i]
        s += min(pd, g)
        k += g * _log(pd + eps)
    return s, k


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _g_log_g(g: np.ndarray, g_inv: float, gd: np.ndarray) -> float:  # pragma: no cover - compiled
    """gd = g · g_inv; returns Σ gd·log gd (0 where gd is 0) (vectorised)."""
    s = 0.0
    for i in range(g.size):
        v = g[i] * g_inv
        gd[i] = v
        s += v * _log(v) if v > 0.0 else 0.0
    return s


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _own_map(m: np.ndarray, c: np.ndarray, s: float, w_obs: float, uniform: float,
             out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out = ((m / s) · w_obs + c) + uniform, element by element in IEEE order (views of one length)."""
    for i in range(m.size):
        out[i] = ((m[i] / s) * w_obs + c[i]) + uniform


@numba.njit(cache=True, nogil=True)
def _leave_out(t: np.ndarray, m: np.ndarray, cnt: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover
    """out = t − m; returns 1 where that is 0 while ``cnt`` counts another observer's positive map, else 0."""
    lo = 0
    for i in range(m.size):
        mv = m[i]
        v = t[i] - mv
        out[i] = v
        lo |= np.int32(v == 0.0) & np.int32(cnt[i] > np.int32(mv > 0.0))
    return lo


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
def _sim(p: np.ndarray, g: np.ndarray, p_inv: float, g_inv: float) -> float:  # pragma: no cover - compiled
    """Σ min(p · p_inv, g · g_inv) (vectorised)."""
    s = 0.0
    for i in range(p.size):
        s += min(p[i] * p_inv, g[i] * g_inv)
    return s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _plain_sum(a: np.ndarray) -> float:  # pragma: no cover - compiled
    s = 0.0
    for i in range(a.size):
        s += a[i]
    return s


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def log_ratio_terms(t: np.ndarray, b: np.ndarray, p_inv: float, eps: float,
                    out: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    """out = T · log(T / (b · p_inv + ε)) where T > 0, else 0; returns (Σ T, Σ out) (vectorised)."""
    st = so = 0.0
    for i in range(t.size):
        tv = t[i]
        v = tv * _log(tv / (b[i] * p_inv + eps)) if tv > 0.0 else 0.0
        out[i] = v
        st += tv
        so += v
    return st, so


@numba.njit(cache=True, nogil=True)
def support_runs(height: int, set_of: np.ndarray, y0: np.ndarray, y1: np.ndarray, x0: np.ndarray,
                 x1: np.ndarray, n_sets: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Column runs [start, stop) per (set, row) covering every pixel where set ``k``'s map can be non-zero:
    the union of the rectangles [y0, y1] × [x0, x1] (inclusive) of its fixations (``set_of[j] = k``; −1:
    none). Returns (pointers (n_sets · height + 1,): runs of set k, row r at ``ptr[k·H + r]:ptr[k·H + r + 1]``,
    runs (R, 2))."""
    order = np.argsort(set_of, kind="mergesort")
    first = np.searchsorted(set_of[order], np.arange(n_sets + 1))
    ptr = np.zeros(n_sets * height + 1, np.int64)
    cap = 1024
    runs = np.empty((cap, 2), np.int64)
    q = 0
    lo = np.empty(set_of.size + 1, np.int64)
    hi = np.empty(set_of.size + 1, np.int64)
    for k in range(n_sets):
        for r in range(height):
            m = 0
            for jj in range(first[k], first[k + 1]):
                j = order[jj]
                if y0[j] <= r <= y1[j]:
                    a, e = x0[j], x1[j] + 1
                    i = m                            # insertion by start
                    while i > 0 and lo[i - 1] > a:
                        lo[i] = lo[i - 1]
                        hi[i] = hi[i - 1]
                        i -= 1
                    lo[i] = a
                    hi[i] = e
                    m += 1
            i = 0
            while i < m:
                a, e = lo[i], hi[i]
                i += 1
                while i < m and lo[i] <= e:
                    e = max(e, hi[i])
                    i += 1
                if q == cap:
                    bigger = np.empty((2 * cap, 2), np.int64)
                    bigger[:cap] = runs
                    runs = bigger
                    cap *= 2
                runs[q, 0] = a
                runs[q, 1] = e
                q += 1
            ptr[k * height + r + 1] = q
    return ptr, runs[:q].copy()


@numba.njit(cache=True, nogil=True)
def _bucket(v: np.ndarray, klo: np.uint64, shift: np.uint64, marks: np.ndarray, nb: int,
            jb: np.ndarray, hist: np.ndarray, buf: np.ndarray, k: int) -> tuple[int, int]:  # pragma: no cover
    """Bucket the values ``v`` as :func:`saliency.metrics.jit.map_pass` does (a histogram of ``nb`` slots;
    keys of marked buckets appended to ``buf`` from ``k``), runs of one bucket (smooth maps) counted in a
    register. Returns (#{key < klo}, new k)."""
    last = np.uint64(nb - 1)
    below = _bucket_block(v, v.size, klo, shift, last, jb)
    cur = last
    run = 0
    for i in range(v.size):
        j = jb[i]
        if j != cur:          # runs of one bucket (smooth maps) counted in a register
            hist[cur] += run
            cur = j
            run = 0
        run += 1
        if marks[j]:
            buf[k] = _key64(v[i])
            k += 1
    hist[cur] += run
    return below, k


@numba.njit(cache=True, nogil=True, error_model="numpy")
def observer_sweep(gold: bool, width: int, t: np.ndarray, count: np.ndarray, a_resp: np.ndarray,
                   b_resp: np.ndarray, fptr: np.ndarray, row_lo: np.ndarray, row_hi: np.ndarray,
                   col_lo: np.ndarray, col_hi: np.ndarray, active: np.ndarray, s_src: np.ndarray, mix: bool, c: np.ndarray, w_obs: float, uniform: float,
                   g: np.ndarray, p_mean: np.ndarray, p_inv: np.ndarray, g_mean: np.ndarray, g_inv: np.ndarray, eps: float,
                   want_stats: bool, want_pair: bool, runs_ptr: np.ndarray, runs: np.ndarray,
                   rank_all: bool, neg: np.ndarray, few_n: np.ndarray, few: np.ndarray, few_less: np.ndarray,
                   few_eq: np.ndarray, fneg_less: np.ndarray, fneg_eq: np.ndarray, klo: np.ndarray,
                   shift: np.ndarray, nbs: np.ndarray, marks: np.ndarray, hist_all: np.ndarray, buf_all: np.ndarray,
                   hist_neg: np.ndarray, buf_neg: np.ndarray, sums: np.ndarray, counts: np.ndarray,
                   lost: np.ndarray, use_s: bool, s_ptr: np.ndarray, s_runs: np.ndarray, bmap: np.ndarray,
                   lt: np.ndarray, hist_b: np.ndarray, buf_b: np.ndarray, counts_b: np.ndarray,
                   sums_s: np.ndarray) -> float:  # pragma: no cover - compiled
    """Every observer set ``k`` of one image (``active[k]``; its own map ``M_k`` made row by row by
    :func:`blur_row` from ``a_resp``, ``b_resp``, fixations ``fptr[k] … fptr[k + 1] − 1``, ``row_lo``,
    ``row_hi``, ``col_lo``, ``col_hi``)
    scored in one sweep over the image, row by row: ``T``, ``C``, the ground truth and the negatives of a row
    are read once for all sets, while they are in cache. Returns Σ(g − ḡ)² of the gold-standard ground
    truth (``gold`` with ``want_pair``; else 0).

    gold: the map is ``T − M_k``, the ground truth ``g`` (mean ``g_mean[0]``); else the map is ``M_k``, the
    ground truth ``T − M_k`` (mean ``g_mean[k]``). mix: the map is the mixture ``((· / s_src[k]) · w_obs + C)
    + uniform``, element by element in IEEE order as :func:`saliency.metrics.jit.map_pass` forms it; its mean
    is ``p_mean[k]``. Densities are ``p · p_inv[k]`` and ``g · g_inv[k]`` (non-negative maps, non-zero sums). SIM and KL are summed only
    over ``runs`` (column [start, stop) pairs, row ``r``'s at ``runs_ptr[r]:runs_ptr[r + 1]``), where the
    ground truth may be non-zero: elsewhere both terms are exactly 0. Sums are re-associated within a row.
    Ranks as :func:`map_pass`: with ``few_n[k] > 0`` by comparison with ``few[k, :few_n[k]]`` into
    ``few_less`` / ``few_eq`` (every pixel) and ``fneg_less`` / ``fneg_eq`` (the ascending negatives ``neg``),
    else bucketed (``klo``, ``shift``, ``nbs``, ``marks`` of :class:`RankBuckets`) into ``hist_all`` /
    ``buf_all`` and ``hist_neg`` / ``buf_neg``. Out (added to): ``sums[k]`` = (Σ(p−p̄)², Σ(g−ḡ)² (not
    gold), Σ(p−p̄)(g−ḡ), Σ min, KL), ``counts[k]`` = (below_all, k_all, below_neg, k_neg), ``lost[k]``: 1
    where ``T − M_k`` lost another observer's contribution to rounding (that set must be scored directly).

    use_s (``one_human`` mixtures, sets ranked by buckets): outside set ``k``'s support runs (``s_ptr``,
    ``s_runs``: :func:`support_runs`) ``M_k`` is exactly 0, so the map there is ``bmap`` (= ``C + uniform``)
    and the ground truth ``T``: only the support is formed from ``M_k``. There KL is summed as usual, and
    outside it follows from per-image sums: the sweep adds Σ T and Σ ``lt`` over the support to
    ``sums_s[k]`` (the caller takes them from the image's totals); the ranks of the support's ``bmap``
    values are bucketed into ``hist_b`` / ``buf_b`` / ``counts_b`` (to be taken from the ranks of the whole
    ``bmap``). SIM, the centred sums and the negatives use the whole row as formed.
    """
    n = t.size
    h = n // width
    n_sets = fptr.size - 1
    mrow = np.empty(width)
    pb = np.empty(width)
    gb = np.empty(width)
    gdr = np.zeros(width)
    nv = np.empty(width)
    jb = np.empty(width, np.uint64)
    ssg_gold = 0.0
    jn = 0
    for r in range(h):
        start = r * width
        stop = start + width
        tv = t[start:stop]
        cnt = count[start:stop]
        cv = c[start:stop] if mix else tv
        gv = g[start:stop] if gold and want_pair else gb
        j0 = jn
        while jn < neg.size and neg[jn] < stop:
            jn += 1
        glg = 0.0
        if gold and want_pair:
            ssg_gold += _dev_sums(gv, gv, g_mean[0], 0.0, False)[0]
            for q in range(runs_ptr[r], runs_ptr[r + 1]):      # the ground truth's Σ gd·log gd, once per row
                a, b = runs[q, 0], runs[q, 1]
                glg += _g_log_g(gv[a:b], g_inv[0], gdr[a:b])
        for k in range(n_sets):
            if not active[k]:
                continue
            blur_row(a_resp, b_resp, row_lo, row_hi, col_lo, col_hi, fptr[k], fptr[k + 1], r, mrow)
            mkv = mrow
            s = s_src[k]
            lo = 0
            if gold:
                if mix:
                    for i in range(width):
                        mv = mkv[i]
                        v = tv[i] - mv
                        pb[i] = ((v / s) * w_obs + cv[i]) + uniform
                        lo |= np.int32(v == 0.0) & np.int32(cnt[i] > np.int32(mv > 0.0))
                else:
                    for i in range(width):
                        mv = mkv[i]
                        v = tv[i] - mv
                        pb[i] = v
                        lo |= np.int32(v == 0.0) & np.int32(cnt[i] > np.int32(mv > 0.0))
            else:
                sk = use_s and few_n[k] == 0
                if sk:              # outside the support M_k = 0: the map is C + u, the ground truth T
                    pb[:] = bmap[start:stop]
                    if want_pair:
                        gb[:] = tv
                    for q in range(s_ptr[k * h + r], s_ptr[k * h + r + 1]):
                        a, e = s_runs[q, 0], s_runs[q, 1]
                        _own_map(mkv[a:e], cv[a:e], s, w_obs, uniform, pb[a:e])
                        if want_pair:
                            lo |= _leave_out(tv[a:e], mkv[a:e], cnt[a:e], gb[a:e])
                else:
                    if mix:
                        _own_map(mkv, cv, s, w_obs, uniform, pb)
                    else:
                        pb[:] = mkv
                    if want_pair:
                        lo |= _leave_out(tv, mkv, cnt, gb)
                gv = gb
            lost[k] |= lo
            if want_stats:
                sp, sg, sc = _dev_sums(pb, gv, p_mean[k], g_mean[0] if gold else g_mean[k], want_pair)
                sums[k, 0] += sp
                sums[k, 1] += sg
                sums[k, 2] += sc
                if want_pair and not gold and use_s and few_n[k] == 0:
                    for q in range(runs_ptr[r], runs_ptr[r + 1]):
                        a, b = runs[q, 0], runs[q, 1]
                        sums[k, 3] += _sim(pb[a:b], gv[a:b], p_inv[k], g_inv[k])
                    lv = lt[start:stop]
                    for q in range(s_ptr[k * h + r], s_ptr[k * h + r + 1]):
                        a, e = s_runs[q, 0], s_runs[q, 1]
                        sums[k, 4] += _sim_kl(pb[a:e], gv[a:e], p_inv[k], g_inv[k], eps)[1]
                        sums_s[k, 0] += _plain_sum(tv[a:e])
                        sums_s[k, 1] += _plain_sum(lv[a:e])
                elif want_pair and gold:     # KL = Σ gd·log gd − Σ gd·log(pd + ε) (the ε added to the ratio dropped)
                    k2 = 0.0
                    for q in range(runs_ptr[r], runs_ptr[r + 1]):
                        a, b = runs[q, 0], runs[q, 1]
                        s2, lp = _sim_log_p(pb[a:b], gdr[a:b], p_inv[k], eps)
                        sums[k, 3] += s2
                        k2 += lp
                    sums[k, 4] += glg - k2
                elif want_pair:
                    for q in range(runs_ptr[r], runs_ptr[r + 1]):
                        a, b = runs[q, 0], runs[q, 1]
                        s2, k2 = _sim_kl(pb[a:b], gv[a:b], p_inv[k], g_inv[k], eps)
                        sums[k, 3] += s2
                        sums[k, 4] += k2
            m = few_n[k]
            if rank_all:
                if m:
                    _count_few(pb, width, few[k, :m], few_less[k], few_eq[k])
                elif use_s and not gold:      # the support's map and C + u; the rest from the whole C + u
                    for q in range(s_ptr[k * h + r], s_ptr[k * h + r + 1]):
                        a, e = s_runs[q, 0], s_runs[q, 1]
                        below, counts[k, 1] = _bucket(pb[a:e], klo[k], shift[k], marks[k], nbs[k], jb,
                                                      hist_all[k], buf_all[k], counts[k, 1])
                        counts[k, 0] += below
                        below, counts_b[k, 1] = _bucket(bmap[start + a:start + e], klo[k], shift[k], marks[k],
                                                        nbs[k], jb, hist_b[k], buf_b[k], counts_b[k, 1])
                        counts_b[k, 0] += below
                else:
                    below, counts[k, 1] = _bucket(pb, klo[k], shift[k], marks[k], nbs[k], jb, hist_all[k],
                                                  buf_all[k], counts[k, 1])
                    counts[k, 0] += below
            for c0 in range(j0, jn, width):          # the row's negatives, a row's length at a time
                c1 = min(c0 + width, jn)
                for j in range(c0, c1):
                    nv[j - c0] = pb[neg[j] - start]
                if m:
                    _count_few(nv, c1 - c0, few[k, :m], fneg_less[k], fneg_eq[k])
                else:
                    below, counts[k, 3] = _bucket(nv[:c1 - c0], klo[k], shift[k], marks[k], nbs[k], jb,
                                                  hist_neg[k], buf_neg[k], counts[k, 3])
                    counts[k, 2] += below
    return ssg_gold


@numba.njit(cache=True, nogil=True)
def nonzero_runs(a: np.ndarray, width: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Column runs [start, stop) of each row of the flat (H·W) array ``a`` covering every non-zero value, made
    of whole ``chunk``-column pieces that hold one. Returns (row pointers (H + 1,), runs (R, 2))."""
    h = a.size // width
    ptr = np.zeros(h + 1, np.int64)
    runs = np.empty((h * ((width + chunk - 1) // chunk) + 1, 2), np.int64)
    q = 0
    for r in range(h):
        row = a[r * width:(r + 1) * width]
        start = -1
        stop = 0
        for c0 in range(0, width, chunk):
            c1 = min(c0 + chunk, width)
            piece = row[c0:c1]
            nz = False
            for i in range(piece.size):
                nz |= piece[i] != 0.0
            if nz:
                if start < 0:
                    start = c0
                stop = c1
            elif start >= 0:
                runs[q, 0] = start
                runs[q, 1] = stop
                q += 1
                start = -1
        if start >= 0:
            runs[q, 0] = start
            runs[q, 1] = stop
            q += 1
        ptr[r + 1] = q
    return ptr, runs[:q].copy()

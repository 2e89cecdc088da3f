"""Fixation-prediction metrics, pure numpy: AUC-Judd, AUC-Borji, shuffled AUC, NSS, CC, KL, SIM, IG, EMD.

Every function scores ONE image and takes a ``convention`` (``"pysaliency"`` default, or ``"mit"``; see
:mod:`saliency.metrics.conventions`). Inputs:

- ``saliency_map``: (H, W) array, any real values (a prediction).
- ``x_px``, ``y_px``: (N,) float fixation coordinates in stimulus pixels, 0-based; pixel (row i, col j)
  covers x ∈ [j, j+1), y ∈ [i, i+1), so a fixation is scored at ``(int(y), int(x))`` (pysaliency's
  ``x_int``/``y_int``).
- ``density``: (H, W) ground-truth fixation density (the blurred fixation map of the shards).

Fixation metrics (AUC, sAUC, NSS, IG) return the image score = the mean of the per-fixation scores
(``pysaliency``: every fixation, duplicates too) or the score of the binary fixation map (``mit``);
``*_per_fixation`` functions give the per-fixation values of the ``pysaliency`` convention. Dataset averages
are taken by :mod:`saliency.metrics.streaming`: per image, then over images.
"""

from __future__ import annotations

import numpy as np

from saliency.errors import SchemaError
from saliency.metrics.conventions import Convention, get_convention
from saliency.metrics.resize import imresize

__all__ = [
    "auc_borji",
    "auc_judd",
    "auc_per_fixation",
    "cc",
    "emd",
    "fixation_indices",
    "information_gain",
    "information_gain_per_fixation",
    "kl_divergence",
    "matlab_colon",
    "mit_other_map",
    "nss",
    "nss_per_fixation",
    "rank_auc",
    "sauc",
    "sauc_per_fixation",
    "shuffled_negatives",
    "sim",
    "to_density",
]


# ----------------------------------------------------------------------------------------------- helpers
def _as_map(a: np.ndarray, what: str = "saliency map", *, native: bool = False) -> np.ndarray:
    """Validate a (H, W) map; float64 unless ``native`` (rank metrics: float32 ranks are exact as is)."""
    m = np.asarray(a)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise SchemaError(f"{what} must be a 2-D (H, W) array, got shape {m.shape}")
    if not (native and m.dtype in (np.float32, np.float64)):
        m = m.astype(np.float64, copy=False)
    if not np.isfinite(m).all():
        raise SchemaError(f"{what} contains NaN or infinite values")
    return m


def _fit(m: np.ndarray, shape: tuple[int, int] | None, conv: Convention, resize: bool | None,
         what: str = "saliency map") -> np.ndarray:
    """Return ``m`` at ``shape``: resized (MATLAB imresize) if the convention or the caller asks, else error."""
    if shape is None or tuple(m.shape) == tuple(shape):
        return m
    do_resize = conv.resize if resize is None else resize
    if not do_resize:
        raise SchemaError(f"{what} has shape {m.shape} but the stimulus is {tuple(shape)}; the "
                          f"{conv.name!r} convention does not resize implicitly (pass resize=True)")
    return imresize(m, (int(shape[0]), int(shape[1])))


def fixation_indices(x_px: np.ndarray, y_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flat pixel indices ``int(y)·W + int(x)`` of fixations (0-based, truncation as pysaliency ``x_int``).

    Raises :class:`SchemaError` for fixations outside the (H, W) image or non-finite coordinates.
    """
    x = np.asarray(x_px, dtype=np.float64).ravel()
    y = np.asarray(y_px, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise SchemaError(f"x_px and y_px differ in length ({x.size} vs {y.size})")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise SchemaError("fixation coordinates contain NaN or infinite values")
    xi = x.astype(np.int64)
    yi = y.astype(np.int64)
    h, w = shape
    bad = (xi < 0) | (yi < 0) | (xi >= w) | (yi >= h)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"{int(bad.sum())} fixation(s) outside the {h}×{w} image, e.g. "
                          f"x={x[k]:g}, y={y[k]:g}")
    return yi * w + xi


def _fix_idx(x_px, y_px, shape, conv: Convention) -> np.ndarray:
    idx = fixation_indices(x_px, y_px, shape)
    return np.unique(idx) if conv.binary_fixations else idx


def _minmax(m: np.ndarray) -> np.ndarray:
    """``(m − min) / (max − min)`` as MATLAB writes it (a constant map gives NaN, as in MATLAB)."""
    lo, hi = m.min(), m.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (m - lo) / (hi - lo)


def to_density(m: np.ndarray) -> np.ndarray:
    """pysaliency ``convert_saliency_map_to_density(m, minimum_value=0)``: shift to min 0 if negative, sum to 1.

    A map summing to zero becomes uniform.
    """
    m = np.asarray(m, dtype=np.float64)
    mn = m.min()
    if mn < 0:
        m = m - mn
    s = m.sum()
    if s:
        return m / s
    return np.full(m.shape, 1.0 / m.size)


def rank_auc(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Exact per-positive AUC: P(negative < positive) + ½ P(negative = positive).

    positives: (N,), negatives: (M,) → (N,) values in [0, 1]; their mean is the ROC area with all thresholds
    (pysaliency ``general_rocs_per_positive``). One ``searchsorted`` of the negatives into the (few) distinct
    positive values, then counts with ``bincount``: O(M log N) without sorting the M negatives.
    """
    pos = np.asarray(positives).ravel()
    neg = np.asarray(negatives).ravel()
    if pos.dtype != neg.dtype or pos.dtype not in (np.float32, np.float64):
        pos, neg = pos.astype(np.float64), neg.astype(np.float64)
    if neg.size == 0:
        raise SchemaError("AUC needs at least one negative")
    u, inverse = np.unique(pos, return_inverse=True)
    r = np.searchsorted(u, neg, side="right")               # number of distinct positives <= negative
    less = np.cumsum(np.bincount(r, minlength=u.size + 1))[: u.size]   # negatives < u_k  ⇔  r <= k
    rm1 = r - 1
    eq_mask = (r > 0) & (neg == u[np.maximum(rm1, 0)])
    equal = np.bincount(rm1[eq_mask], minlength=u.size)
    return ((less + 0.5 * equal) / neg.size)[inverse.ravel()]


def _trapz(y: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.trapezoid(y, x, axis=axis)


# --------------------------------------------------------------------------------------------------- AUC
def auc_per_fixation(saliency_map: np.ndarray, x_px, y_px, *, shape: tuple[int, int] | None = None,
                     resize: bool = False) -> np.ndarray:
    """Per-fixation AUC with all pixels as negatives (pysaliency ``AUCs(nonfixations='uniform')``).

    AUC_i = (#{pixels < s_i} + ½ #{pixels = s_i}) / (H·W), s_i the map value at fixation i. Returns (N,).
    """
    conv = get_convention("pysaliency")
    m = _fit(_as_map(saliency_map, native=True), shape, conv, resize)
    idx = fixation_indices(x_px, y_px, m.shape)
    flat = m.ravel()
    return rank_auc(flat[idx], flat)


def auc_judd(saliency_map: np.ndarray, x_px, y_px, *, convention: str | Convention = "pysaliency",
             shape: tuple[int, int] | None = None, resize: bool | None = None,
             seed: int | None = None, rng: np.random.Generator | None = None) -> float:
    """AUC-Judd of one image.

    ``pysaliency``: mean over fixations (duplicates counted) of the exact rank AUC against all pixels, ties ½
    (the benchmark's AUC; pysaliency ``SaliencyMapModel.AUC(nonfixations='uniform')``).

    ``mit`` (``AUC_Judd.m``): binary fixation map; map += U(0,1)·1e-7 (seeded jitter); min–max; thresholds at
    the fixated values t_1 ≥ … ≥ t_K; tp_i = i/K, fp_i = (#{S ≥ t_i} − i)/(H·W − K); tp, fp framed by 0 and 1;
    area by the trapezoid rule.
    """
    conv = get_convention(convention)
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    if conv.name == "pysaliency":
        return float(auc_per_fixation(m, x_px, y_px).mean())
    idx = _fix_idx(x_px, y_px, m.shape, conv)
    rng = _rng(conv, seed, rng)
    if conv.jitter_scale:
        m = m + rng.random(m.shape) * conv.jitter_scale
    s = _minmax(m).ravel()
    n_pix, n_fix = s.size, idx.size
    th = np.sort(s[idx])                                      # ascending; the sweep goes descending
    c = np.searchsorted(th, s, side="right")                  # number of thresholds <= value
    above = n_pix - np.cumsum(np.bincount(c, minlength=n_fix + 1))[:n_fix]   # #{S >= th_k}
    above = above[::-1]                                       # descending thresholds
    i = np.arange(1, n_fix + 1)
    tp = np.concatenate([[0.0], i / n_fix, [1.0]])
    fp = np.concatenate([[0.0], (above - i) / (n_pix - n_fix), [1.0]])
    return float(_trapz(tp, fp))


def matlab_colon(a: float, d: float, b: float) -> np.ndarray:
    """MATLAB's ``a:d:b`` for d > 0, value for value: the first half is ``a + k·d``, the second half
    ``last − k·d`` with ``last = b`` when ``a + n·d`` is within 2·eps·max(|a|, |b|) of b (so ``0:0.1:m`` ends
    exactly at m = 0.7, say), the midpoint ``(a + last)/2`` (MATLAB's documented ``colonop`` algorithm).
    Empty when b < a or any argument is NaN."""
    if not (np.isfinite(a) and np.isfinite(d) and np.isfinite(b)) or d <= 0 or b < a:
        return np.empty(0)
    tol = 2.0 * np.finfo(float).eps * max(abs(a), abs(b))
    n = int(np.floor((b - a) / d + 0.5))        # MATLAB round: halves away from zero (here > 0)
    if a + n * d - b > tol:
        n -= 1
    last = a + n * d
    if last - b > -tol:
        last = b
    v = np.empty(n + 1)
    k = np.arange(n // 2 + 1)
    v[k] = a + k * d
    v[n - k] = last - k * d
    if n % 2 == 0:
        v[n // 2] = (a + last) / 2
    return v


def _borji_area(sth: np.ndarray, negs: np.ndarray, step: float) -> float:
    """Mean over splits of the ROC area at thresholds ``fliplr(0:step:max([Sth; curfix]))``
    (``AUC_Borji.m``/``AUC_shuffled.m``): each split's own maximum, MATLAB's colon values exactly.

    sth: (K,) positives; negs: (M, splits). Splits with fewer thresholds are padded at the top with +inf
    (extra points at (0, 0), which add no area).
    """
    n_splits = negs.shape[1]
    tops = np.maximum(sth.max(), negs.max(axis=0)) if sth.size else negs.max(axis=0)
    grids = [matlab_colon(0.0, step, float(t))[::-1] for t in tops]
    t_max = max((g.size for g in grids), default=0)
    th = np.full((t_max, n_splits), np.inf)
    for j, g in enumerate(grids):
        th[t_max - g.size:, j] = g
    tp = (sth[None, None, :] >= th[:, :, None]).mean(axis=2)        # (T, splits)
    fp = (negs[None, :, :] >= th[:, None, :]).mean(axis=1)           # (T, splits)
    tp_full = np.concatenate([np.zeros((1, n_splits)), tp, np.ones((1, n_splits))], axis=0)
    fp_full = np.concatenate([np.zeros((1, n_splits)), fp, np.ones((1, n_splits))], axis=0)
    return float(_trapz(tp_full, fp_full, axis=0).mean())


def _rng(conv: Convention, seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    """The caller's running stream (``mit``: one stream across images, as MATLAB's global stream) or a fresh
    one seeded with ``seed`` (default the convention's)."""
    return rng if rng is not None else np.random.default_rng(conv.seed if seed is None else seed)


def auc_borji(saliency_map: np.ndarray, x_px, y_px, *, convention: str | Convention = "pysaliency",
              shape: tuple[int, int] | None = None, resize: bool | None = None,
              seed: int | None = None, rng: np.random.Generator | None = None) -> float:
    """AUC-Borji of one image: fixations against uniformly drawn pixels.

    ``pysaliency``: pysaliency has no sampled AUC; the exact limit of Borji's uniform sampling is the rank AUC
    against all pixels, so this equals :func:`auc_judd` (pysaliency convention).

    ``mit`` (``AUC_Borji.m``): min–max; for each of 100 splits draw K pixels uniformly (with replacement, K =
    number of fixated pixels, from ``rng``: one stream running on across images); thresholds
    ``0:0.1:max`` per split (:func:`matlab_colon`); tp = #{S_fix ≥ t}/K, fp = #{S_rand ≥ t}/K; trapezoid
    area; mean over splits. NaN with at most one fixated pixel: there ``S(r)`` takes the orientation of S
    and the 100 splits collapse into one column, so ``AUC_Borji.m`` yields no score.
    """
    conv = get_convention(convention)
    if conv.name == "pysaliency":
        return auc_judd(saliency_map, x_px, y_px, convention=conv, shape=shape, resize=resize)
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    idx = _fix_idx(x_px, y_px, m.shape, conv)
    if idx.size <= 1:
        return float("nan")
    s = _minmax(m).ravel()
    r = _rng(conv, seed, rng).integers(0, s.size, size=(idx.size, conv.auc_splits))
    return _borji_area(s[idx], s[r], conv.auc_step)


def shuffled_negatives(other_x_px: np.ndarray, other_y_px: np.ndarray, other_width_px: np.ndarray,
                       other_height_px: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of other images rescaled to an (H, W) image and truncated to integer pixels.

    pysaliency ``FullShuffledNonfixationProvider``: ``int(x · W / W_other)``, ``int(y · H / H_other)``.
    Returns integer (x, y) arrays.
    """
    h, w = shape
    xs = np.asarray(other_x_px, dtype=np.float64) * (w / np.asarray(other_width_px, dtype=np.float64))
    ys = np.asarray(other_y_px, dtype=np.float64) * (h / np.asarray(other_height_px, dtype=np.float64))
    return xs.astype(np.int64), ys.astype(np.int64)


def mit_other_map(others: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]],
                  shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of the pixels of ``otherMap`` > 0, as ``scoreModel_helper.m`` builds it for shuffled AUC:
    the sum over the chosen other images of their binary fixation maps, each resized to ``shape`` with
    MATLAB ``imresize`` (bicubic; identity for the same size). others: (x_px, y_px, (H, W)) per image."""
    h, w = int(shape[0]), int(shape[1])
    acc = np.zeros((h, w))
    for x, y, (ho, wo) in others:
        b = np.zeros((int(ho), int(wo)))
        if len(x):
            b.ravel()[fixation_indices(x, y, (int(ho), int(wo)))] = 1.0
        acc += b if (int(ho), int(wo)) == (h, w) else imresize(b, (h, w))
    return np.flatnonzero(acc > 0)


def sauc_per_fixation(saliency_map: np.ndarray, x_px, y_px, neg_x_px, neg_y_px, *,
                      shape: tuple[int, int] | None = None, resize: bool = False) -> np.ndarray:
    """Per-fixation shuffled AUC (pysaliency ``AUCs(nonfixations='shuffled')``): rank AUC, ties ½, against the
    map values at the negatives (other images' fixations already in this image's pixels, e.g. from
    :func:`shuffled_negatives`). Returns (N,)."""
    conv = get_convention("pysaliency")
    m = _fit(_as_map(saliency_map, native=True), shape, conv, resize)
    flat = m.ravel()
    pos = flat[fixation_indices(x_px, y_px, m.shape)]
    neg = flat[fixation_indices(neg_x_px, neg_y_px, m.shape)]
    return rank_auc(pos, neg)


def sauc(saliency_map: np.ndarray, x_px, y_px, neg_x_px, neg_y_px, *,
         convention: str | Convention = "pysaliency", shape: tuple[int, int] | None = None,
         resize: bool | None = None, seed: int | None = None, rng: np.random.Generator | None = None) -> float:
    """Shuffled AUC of one image; negatives = fixations of other images in this image's pixels.

    ``pysaliency``: mean of :func:`sauc_per_fixation` (every fixation of every other image is a negative).

    ``mit`` (``AUC_shuffled.m``): min–max; binary maps of this image's fixations (K pixels) and of the
    negatives (``otherMap``, M distinct pixels: the benchmark's driver passes the fixations of 10 random
    other images, :func:`mit_other_map`); each of 100 splits takes min(K, M) negative pixels without
    replacement (random permutations from ``rng``); thresholds 0:0.1:max per split; tp = #{S_fix ≥ t}/K,
    fp = #{S_neg ≥ t}/min(K, M); trapezoid area; mean over splits.
    """
    conv = get_convention(convention)
    if conv.name == "pysaliency":
        return float(sauc_per_fixation(saliency_map, x_px, y_px, neg_x_px, neg_y_px, shape=shape,
                                       resize=bool(resize)).mean())
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    idx = _fix_idx(x_px, y_px, m.shape, conv)
    other = np.unique(fixation_indices(neg_x_px, neg_y_px, m.shape))
    s = _minmax(m).ravel()
    n = min(idx.size, other.size)
    rng = _rng(conv, seed, rng)
    picks = np.stack([rng.permutation(other.size)[:n] for _ in range(conv.auc_splits)], axis=1)
    return _borji_area(s[idx], s[other[picks]], conv.auc_step)


# --------------------------------------------------------------------------------------------------- NSS
def nss_per_fixation(saliency_map: np.ndarray, x_px, y_px, *, shape: tuple[int, int] | None = None,
                     resize: bool = False) -> np.ndarray:
    """Per-fixation NSS, pysaliency ``metrics.NSS``: (s_i − mean) / std, population std (N); a constant map
    scores 0. Returns (N,)."""
    conv = get_convention("pysaliency")
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    idx = fixation_indices(x_px, y_px, m.shape)
    mean, std = m.mean(), m.std()
    v = m.ravel()[idx] - mean
    return v / std if std else v


def nss(saliency_map: np.ndarray, x_px, y_px, *, convention: str | Convention = "pysaliency",
        shape: tuple[int, int] | None = None, resize: bool | None = None) -> float:
    """Normalised scanpath saliency of one image (Peters et al. 2005).

    ``pysaliency``: mean over fixations (duplicates counted) of (s_i − μ)/σ, σ with N.
    ``mit`` (``NSS.m``): map resized to the image; (map − μ)/σ with σ = std(N − 1); mean over the binary
    fixation map. A constant map scores 0 in both (MATLAB would give NaN).
    """
    conv = get_convention(convention)
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    if conv.name == "pysaliency":
        return float(nss_per_fixation(m, x_px, y_px).mean())
    idx = _fix_idx(x_px, y_px, m.shape, conv)
    std = m.std(ddof=conv.std_ddof)
    v = m.ravel()[idx] - m.mean()
    return float((v / std if std else v).mean())


# ------------------------------------------------------------------------------------ distribution metrics
def pearson_centred(a: np.ndarray, b: np.ndarray, ss_a: float | None = None) -> float:
    """CC of two centred, flat float64 maps: a·b / sqrt(a·a · b·b); 0 when either is constant.

    ``ss_a``: a·a when already known. Computed by the one compiled pair pass
    (:func:`saliency.metrics.jit.pair_stats`), which the fused path calls directly.
    """
    from saliency.metrics.jit import pair_stats

    a = np.ascontiguousarray(a, dtype=np.float64).ravel()
    b = np.ascontiguousarray(b, dtype=np.float64).ravel()
    ssa, ssb, cross, _, _ = pair_stats(a, 0.0, 0.0, 1.0, b, 0.0, 0.0, 1.0, True, 0.0, False)
    ss_a = ssa if ss_a is None else ss_a
    den = np.sqrt(ss_a * ssb)
    return float(cross / den) if den else 0.0


def kl_of_densities(g: np.ndarray, p: np.ndarray, eps: float, out: np.ndarray | None = None) -> float:
    """Σ g · log(ε + g / (p + ε)) of two flat float64 densities, in nats (``out``: unused, kept for callers).

    Computed by the one compiled pair pass (:func:`saliency.metrics.jit.pair_stats`), which the fused path
    calls directly; pixels with g = 0 add exactly 0.
    """
    from saliency.metrics.jit import pair_stats

    g = np.ascontiguousarray(g, dtype=np.float64).ravel()
    p = np.ascontiguousarray(p, dtype=np.float64).ravel()
    return float(pair_stats(p, 0.0, 0.0, 1.0, g, 0.0, 0.0, 1.0, True, eps)[4])


def cc(saliency_map: np.ndarray, density: np.ndarray, *, convention: str | Convention = "pysaliency",
       resize: bool | None = None) -> float:
    """Pearson linear correlation coefficient between prediction and ground-truth map (per image).

    CC = Σ(p − p̄)(g − ḡ) / sqrt(Σ(p − p̄)² Σ(g − ḡ)²); the std convention cancels, so ``pysaliency``
    (``metrics.CC``) and ``mit`` (``CC.m``, ``corr2``) agree; ``mit`` resizes the prediction to the ground
    truth. A constant map scores 0 (pysaliency returns 0 for a constant prediction; MATLAB NaN).
    """
    conv = get_convention(convention)
    g = _as_map(density, "ground-truth map")
    p = _fit(_as_map(saliency_map), g.shape, conv, resize)
    return pearson_centred((p - p.mean()).ravel(), (g - g.mean()).ravel())


def kl_divergence(saliency_map: np.ndarray, density: np.ndarray, *, convention: str | Convention = "pysaliency",
                  resize: bool | None = None) -> float:
    """Image-based KL divergence KL(ground truth ‖ prediction), in nats (per image).

    KL = Σ g · log(ε + g / (p + ε)), p and g normalised to sum 1.
    ``pysaliency`` (``metrics.MIT_KLDiv``): ε = 2.2204e-16; maps made densities by
    :func:`to_density` (shift to min 0 if negative; a zero map becomes uniform).
    ``mit`` (``KLdiv.m``): ε = MATLAB eps = 2⁻⁵²; maps divided by their sum if any is non-zero;
    prediction resized to the ground truth.
    """
    conv = get_convention(convention)
    g = _as_map(density, "ground-truth map")
    p = _fit(_as_map(saliency_map), g.shape, conv, resize)
    eps = conv.kl_eps
    if conv.name == "pysaliency":
        p, g = to_density(p), to_density(g)
    else:
        p = p / p.sum() if p.any() else p
        g = g / g.sum() if g.any() else g
    return kl_of_densities(g.ravel(), p.ravel(), eps)


def sim(saliency_map: np.ndarray, density: np.ndarray, *, convention: str | Convention = "pysaliency",
        resize: bool | None = None) -> float:
    """Similarity (histogram intersection) Σ min(p, g) of the two maps as distributions (per image).

    ``pysaliency`` (``metrics.SIM``): :func:`to_density` of each, no min–max.
    ``mit`` (``similarity.m``): each non-zero map min–max normalised then divided by its sum; prediction
    resized; a constant non-zero map gives NaN as in MATLAB.
    """
    conv = get_convention(convention)
    g = _as_map(density, "ground-truth map")
    p = _fit(_as_map(saliency_map), g.shape, conv, resize)
    if conv.name == "pysaliency":
        p, g = to_density(p), to_density(g)
    else:
        def norm(a: np.ndarray) -> np.ndarray:
            if not a.any():
                return a
            a = _minmax(a)
            return a / a.sum()
        p, g = norm(p), norm(g)
    return float(np.minimum(p, g).sum())


# -------------------------------------------------------------------------------------- information gain
def _log_density_at(m: np.ndarray, idx: np.ndarray, log_density: bool) -> np.ndarray:
    """log of :func:`to_density` (m) at flat indices ``idx``, without forming the whole density."""
    flat = m.ravel()
    if log_density:
        return flat[idx]
    mn = flat.min()
    shift = mn if mn < 0 else 0.0
    total = flat.sum() - shift * flat.size
    with np.errstate(divide="ignore"):
        if not total:
            return np.full(idx.size, -np.log(flat.size))
        return np.log((flat[idx] - shift) / total)


def information_gain_per_fixation(saliency_map: np.ndarray, x_px, y_px, baseline: np.ndarray, *,
                                  log_density: bool = False, baseline_log_density: bool = False,
                                  shape: tuple[int, int] | None = None, resize: bool = False) -> np.ndarray:
    """Per-fixation information gain over a baseline, bits (pysaliency ``Model.information_gains``):
    (log p(x_i) − log b(x_i)) / log 2 with p, b per-pixel probabilities (densities summing to 1).

    ``saliency_map`` is a log-density if ``log_density`` else a map made a density by :func:`to_density`;
    likewise ``baseline``. A model giving a fixated pixel probability 0 scores −inf there (no epsilon).
    """
    conv = get_convention("pysaliency")
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    b = _fit(_as_map(baseline, "baseline map"), m.shape, conv, resize, "baseline map")
    idx = fixation_indices(x_px, y_px, m.shape)
    lp = _log_density_at(m, idx, log_density)
    lb = _log_density_at(b, idx, baseline_log_density)
    return (lp - lb) / np.log(2.0)


def information_gain(saliency_map: np.ndarray, x_px, y_px, baseline: np.ndarray, *,
                     convention: str | Convention = "pysaliency", log_density: bool = False,
                     baseline_log_density: bool = False, shape: tuple[int, int] | None = None,
                     resize: bool | None = None) -> float:
    """Information gain of a prediction over a baseline (e.g. centre bias), bits per fixation (one image).

    ``pysaliency``: mean of :func:`information_gain_per_fixation` (Kümmerer et al., PNAS 2015).
    ``mit`` (``InfoGain.m``): both maps min–max normalised and divided by their sums;
    mean over the binary fixation map of log2(eps + p) − log2(eps + b), eps = 2⁻⁵².
    """
    conv = get_convention(convention)
    if conv.name == "pysaliency":
        return float(information_gain_per_fixation(
            saliency_map, x_px, y_px, baseline, log_density=log_density,
            baseline_log_density=baseline_log_density, shape=shape, resize=bool(resize)).mean())
    m = _fit(_as_map(saliency_map), shape, conv, resize)
    b = _fit(_as_map(baseline, "baseline map"), m.shape, conv, resize, "baseline map")
    if log_density:
        m = np.exp(m)
    if baseline_log_density:
        b = np.exp(b)
    idx = _fix_idx(x_px, y_px, m.shape, conv)
    p = _minmax(m).ravel()
    p = p / p.sum()
    q = _minmax(b).ravel()
    q = q / q.sum()
    eps = conv.kl_eps
    return float(np.mean(np.log2(eps + p[idx]) - np.log2(eps + q[idx])))


# --------------------------------------------------------------------------------------------------- EMD
#: FastEMD's ``emd_hat_impl<double>`` scales masses and ground distances to integers by this factor.
FASTEMD_MULT_FACTOR = 1_000_000


def earth_movers_distance(p: np.ndarray, q: np.ndarray) -> float:
    """EMD between two (R, C) histograms, Euclidean ground distance in bins, as FastEMD's
    ``emd_hat_gd_metric_mex(P, Q, D, 0)`` computes it. Entries may be NEGATIVE (bicubic downsampling leaves
    some): with a metric ground distance FastEMD first moves min(P_i, Q_i) in place at cost 0, so only the
    signed difference d = P − Q is transported, from its positive to its negative cells. Like FastEMD the
    masses are rounded to integers (``floor(x · 10⁶ / max(ΣP, ΣQ) + 0.5)``) and so are the distances
    (``floor(D · 10⁶ / max D + 0.5)``); surplus mass of the larger side is dropped at no cost (extra-mass
    penalty 0). The integer transport problem is solved exactly by linear programming (scipy HiGHS);
    the side of smaller total is shipped entirely, so the problem is always feasible."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise SchemaError(f"EMD histograms differ in shape: {p.shape} vs {q.shape}")
    r, c = p.shape
    pq_norm = FASTEMD_MULT_FACTOR / max(p.sum(), q.sum())
    max_c = np.hypot(r - 1, c - 1)
    if max_c == 0:
        return 0.0
    c_norm = FASTEMD_MULT_FACTOR / max_c
    d = (p - q).ravel()
    ip = np.floor(np.maximum(d, 0) * pq_norm + 0.5)
    iq = np.floor(np.maximum(-d, 0) * pq_norm + 0.5)
    src, dst = np.flatnonzero(ip > 0), np.flatnonzero(iq > 0)
    if not src.size or not dst.size:
        return 0.0
    supply, demand = ip[src], iq[dst]
    if supply.sum() > demand.sum():            # ship the smaller side entirely
        src, dst, supply, demand = dst, src, demand, supply
    rs, cs = np.divmod(src, c)
    rd, cd = np.divmod(dst, c)
    cost = np.floor(np.hypot(rs[:, None] - rd[None, :], cs[:, None] - cd[None, :]) * c_norm + 0.5).ravel()
    from scipy import optimize, sparse  # here, not at import: ≈ 0.2 s of start-up for every other metric

    ns, nd = src.size, dst.size
    k = np.arange(ns * nd)
    a_eq = sparse.csr_matrix((np.ones(ns * nd), (k // nd, k)), shape=(ns, ns * nd))
    a_ub = sparse.csr_matrix((np.ones(ns * nd), (k % nd, k)), shape=(nd, ns * nd))
    res = optimize.linprog(cost, A_eq=a_eq, b_eq=supply, A_ub=a_ub, b_ub=demand, bounds=(0, None),
                           method="highs")
    if not res.success:  # pragma: no cover - feasible by construction (integer supply ≤ demand in total)
        raise SchemaError(f"EMD linear program failed: {res.message}")
    return float(res.fun) / pq_norm / c_norm


def emd(saliency_map: np.ndarray, density: np.ndarray, *, convention: str | Convention = "pysaliency",
        resize: bool | None = None, downsample: int | None = None) -> float:
    """Earth mover's distance between prediction and ground-truth map (today's ``EMD.m``; per image).

    Both conventions follow the MIT code (pysaliency has no EMD): ground truth resized by 1/32 (MATLAB
    imresize, bicubic: may leave negative cells), prediction resized to that size, each divided by its sum
    (no histogram matching: removed from ``EMD.m`` in 2014), then FastEMD with Euclidean ground distance in
    downsampled pixels and no extra-mass penalty (:func:`earth_movers_distance`, negative masses allowed).
    """
    conv = get_convention(convention)
    g = _as_map(density, "ground-truth map")
    p = _as_map(saliency_map)
    if p.shape != g.shape and not (conv.resize if resize is None else resize):
        _fit(p, g.shape, conv, resize)  # raises the size-mismatch error
    f = conv.emd_downsample if downsample is None else downsample
    im1 = imresize(g, scale=1.0 / f) if f > 1 else g
    im2 = imresize(p, im1.shape) if p.shape != im1.shape else p
    s1, s2 = im1.sum(), im2.sum()
    if not (s1 and s2):
        raise SchemaError("EMD needs maps with non-zero total mass after downsampling")
    return earth_movers_distance(im1 / s1, im2 / s2)

"""Salient-object-detection metrics with the conventions of PySODMetrics (github.com/lartpang/PySODMetrics).

Inputs per image: ``pred`` (H, W) uint8 grey map (0–255) and ``gt`` (H, W) uint8 mask. As in PySODMetrics
``prepare_data``: the ground truth is binarised at ``gt > 128``; the prediction is divided by 255 and min–max
normalised (unless constant). ε = ``np.spacing(1)`` (MATLAB eps, ``conventions.MATLAB_EPS``). Dataset scores are means over images;
the F-measure and E-measure curves (256 thresholds, ``pred·255`` cast to uint8, "≥ threshold") are averaged
over images first, then their max and mean are taken.

- :class:`MAE` — mean |pred − gt| (Perazzi et al., CVPR 2012).
- :class:`Fmeasure` — β² = 0.3; adaptive threshold min(2·mean(pred), 1) (Achanta et al., CVPR 2009).
- :class:`Smeasure` — α = 0.5 (Fan et al., ICCV 2017).
- :class:`Emeasure` — enhanced alignment, adaptive / mean / max (Fan et al., IJCAI 2018).
- :class:`WeightedFmeasure` — β = 1 as PySODMetrics' default (Margolin et al., CVPR 2014).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import convolve, distance_transform_edt

from saliency.errors import SchemaError
from saliency.metrics.conventions import MATLAB_EPS

#: ``gt > GT_THRESHOLD`` is foreground.
GT_THRESHOLD = 128
#: Weight of precision in the F-measure (β², called ``beta`` in PySODMetrics).
F_BETA2 = 0.3
#: Object/region balance of the S-measure.
S_ALPHA = 0.5
#: β of the weighted F-measure (PySODMetrics default).
WF_BETA = 1.0
N_THRESHOLDS = 256

__all__ = ["MAE", "Emeasure", "Fmeasure", "Smeasure", "WeightedFmeasure", "evaluate_sod", "prepare"]


def prepare(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pred uint8 0–255, gt uint8) → (pred float64 in [0, 1] min–max normalised, gt bool = gt > 128)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise SchemaError(f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}")
    if pred.ndim != 2:
        raise SchemaError(f"SOD maps must be 2-D (H, W), got shape {pred.shape}")
    g = gt > GT_THRESHOLD
    p = pred / 255
    lo, hi = p.min(), p.max()
    if hi != lo:
        p = (p - lo) / (hi - lo)
    return p.astype(np.float64, copy=False), g


def _hist_ge(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of foreground / background pixels with ``uint8(pred·255) ≥ t`` for t = 255, 254, …, 0."""
    q = (pred * 255).astype(np.uint8)
    fg = np.bincount(q[gt], minlength=N_THRESHOLDS)
    bg = np.bincount(q[~gt], minlength=N_THRESHOLDS)
    return np.cumsum(fg[::-1]), np.cumsum(bg[::-1])


def _adaptive_threshold(pred: np.ndarray) -> float:
    return min(2.0 * float(pred.mean()), 1.0)


class _Metric:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.values: list[float] = []

    def update(self, pred: np.ndarray, gt: np.ndarray) -> float:
        p, g = prepare(pred, gt)
        v = float(self.score(p, g))
        self.values.append(v)
        return v

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class MAE(_Metric):
    """Mean absolute error per image, averaged over images."""

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:
        return float(np.mean(np.abs(pred - gt)))

    def compute(self) -> dict[str, float]:
        return {"mae": float(np.mean(self.values))}


class Fmeasure:
    """F-measure Fβ = (1 + β²)·P·R / (β²·P + R), β² = 0.3.

    ``adp``: per image at threshold min(2·mean, 1), averaged; ``max``/``mean``: of the 256-threshold curve
    averaged over images (precision with a zero denominator counts as 0).
    """

    def __init__(self, beta2: float = F_BETA2) -> None:
        self.beta2 = beta2
        self.reset()

    def reset(self) -> None:
        self.adaptive: list[float] = []
        self.curves: list[np.ndarray] = []
        self.precisions: list[np.ndarray] = []
        self.recalls: list[np.ndarray] = []

    def _f(self, p, r):
        num = (1 + self.beta2) * p * r
        den = np.where(num == 0, 1, self.beta2 * p + r)
        return num / den

    def update(self, pred: np.ndarray, gt: np.ndarray) -> float:
        p, g = prepare(pred, gt)
        binary = p >= _adaptive_threshold(p)
        inter = np.count_nonzero(binary & g)
        if inter == 0:
            adp = 0.0
        else:
            pre = inter / np.count_nonzero(binary)
            rec = inter / np.count_nonzero(g)
            adp = (1 + self.beta2) * pre * rec / (self.beta2 * pre + rec)
        self.adaptive.append(float(adp))
        tp, fp = _hist_ge(p, g)
        ps = tp + fp
        ps[ps == 0] = 1
        precision = tp / ps
        recall = tp / max(np.count_nonzero(g), 1)
        self.precisions.append(precision)
        self.recalls.append(recall)
        curve = self._f(precision, recall)
        self.curves.append(curve)
        return float(adp)

    def compute(self) -> dict[str, float]:
        curve = np.mean(np.asarray(self.curves, dtype=np.float64), axis=0)
        return {"adp_fm": float(np.mean(self.adaptive)), "mean_fm": float(curve.mean()),
                "max_fm": float(curve.max())}


class Smeasure(_Metric):
    """Structure measure S = α·S_object + (1 − α)·S_region, α = 0.5 (clipped at 0)."""

    def __init__(self, alpha: float = S_ALPHA) -> None:
        self.alpha = alpha
        super().__init__()

    @staticmethod
    def _s_object(x: np.ndarray) -> float:
        mean = x.mean()
        std = x.std(ddof=1) if x.size > 1 else 0.0
        return 2 * mean / (mean * mean + 1 + std + MATLAB_EPS)

    @staticmethod
    def _ssim(pred: np.ndarray, gt: np.ndarray) -> float:
        n = pred.size
        x = pred.mean()
        y = gt.mean()
        dx = pred - x
        dy = gt - y
        sx = np.sum(dx * dx) / (n - 1 + MATLAB_EPS)
        sy = np.sum(dy * dy) / (n - 1 + MATLAB_EPS)
        sxy = np.sum(dx * dy) / (n - 1 + MATLAB_EPS)
        a = 4 * x * y * sxy
        b = (x * x + y * y) * (sx + sy)
        if a != 0:
            return a / (b + MATLAB_EPS)
        return 1.0 if b == 0 else 0.0

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:
        y = gt.mean()
        if y == 0:
            return float(1 - pred.mean())
        if y == 1:
            return float(pred.mean())
        obj = (self._s_object(pred[gt]) * y + self._s_object((1 - pred)[~gt]) * (1 - y)) * self.alpha
        h, w = gt.shape
        area = h * w
        cy, cx = np.argwhere(gt).mean(axis=0).round()
        cy, cx = int(cy) + 1, int(cx) + 1
        w_lt = cx * cy / area
        w_rt = cy * (w - cx) / area
        w_lb = (h - cy) * cx / area
        w_rb = 1 - w_lt - w_rt - w_lb
        gtf = gt.astype(np.float64)
        region = (self._ssim(pred[:cy, :cx], gtf[:cy, :cx]) * w_lt
                  + self._ssim(pred[:cy, cx:], gtf[:cy, cx:]) * w_rt
                  + self._ssim(pred[cy:, :cx], gtf[cy:, :cx]) * w_lb
                  + self._ssim(pred[cy:, cx:], gtf[cy:, cx:]) * w_rb)
        return float(max(0.0, obj + region * (1 - self.alpha)))

    def compute(self) -> dict[str, float]:
        return {"sm": float(np.mean(self.values))}


def _enhanced_sum(fg_fg, fg_bg, n_gt_fg: int, size: int):
    """Σ of the enhanced alignment matrix from the four region counts (vectorised over thresholds)."""
    pred_fg = fg_fg + fg_bg
    pred_bg = size - pred_fg
    if n_gt_fg == 0:
        return pred_bg
    if n_gt_fg == size:
        return pred_fg
    bg_fg = n_gt_fg - fg_fg
    bg_bg = pred_bg - bg_fg
    mp = pred_fg / size
    mg = n_gt_fg / size
    total = 0
    for numel, a, b in ((fg_fg, 1 - mp, 1 - mg), (fg_bg, 1 - mp, -mg), (bg_fg, -mp, 1 - mg), (bg_bg, -mp, -mg)):
        align = 2 * (a * b) / (a * a + b * b + MATLAB_EPS)
        total = total + (align + 1) ** 2 / 4 * numel
    return total


class Emeasure:
    """Enhanced-alignment measure: ``adp`` (threshold min(2·mean, 1)), ``mean``/``max`` of the 256-threshold
    curve averaged over images."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.adaptive: list[float] = []
        self.curves: list[np.ndarray] = []

    def update(self, pred: np.ndarray, gt: np.ndarray) -> float:
        p, g = prepare(pred, gt)
        size = g.size
        n_fg = int(np.count_nonzero(g))
        fg_fg, fg_bg = _hist_ge(p, g)
        self.curves.append(np.asarray(_enhanced_sum(fg_fg, fg_bg, n_fg, size), dtype=np.float64)
                           / (size - 1 + MATLAB_EPS) * np.ones(N_THRESHOLDS))
        binary = p >= _adaptive_threshold(p)
        a = np.count_nonzero(binary & g)
        b = np.count_nonzero(binary & ~g)
        adp = float(_enhanced_sum(a, b, n_fg, size) / (size - 1 + MATLAB_EPS))
        self.adaptive.append(adp)
        return adp

    def compute(self) -> dict[str, float]:
        curve = np.mean(np.asarray(self.curves, dtype=np.float64), axis=0)
        return {"adp_em": float(np.mean(self.adaptive)), "mean_em": float(curve.mean()),
                "max_em": float(curve.max())}


def _gauss2d(shape: tuple[int, int] = (7, 7), sigma: float = 5.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', shape, sigma)``."""
    m, n = [(s - 1) / 2 for s in shape]
    y, x = np.ogrid[-m:m + 1, -n:n + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    s = h.sum()
    return h / s if s else h


class WeightedFmeasure(_Metric):
    """Weighted F-measure (Margolin et al. 2014), β = 1 (PySODMetrics default); 0 for an empty mask."""

    def __init__(self, beta: float = WF_BETA) -> None:
        self.beta = beta
        super().__init__()

    def score(self, pred: np.ndarray, gt: np.ndarray) -> float:
        if not gt.any():
            return 0.0
        dst, idx = distance_transform_edt(~gt, return_indices=True)
        e = np.abs(pred - gt)
        et = e.copy()
        bg = ~gt
        et[bg] = et[idx[0][bg], idx[1][bg]]
        ea = convolve(et, weights=_gauss2d((7, 7), 5), mode="constant", cval=0)
        min_e_ea = np.where(gt & (ea < e), ea, e)
        b = np.where(bg, 2 - np.exp(np.log(0.5) / 5 * dst), 1.0)
        ew = min_e_ea * b
        tpw = np.sum(gt) - np.sum(ew[gt])
        fpw = np.sum(ew[bg])
        r = 1 - np.mean(ew[gt])
        p = tpw / (tpw + fpw + MATLAB_EPS)
        return float((1 + self.beta) * r * p / (r + self.beta * p + MATLAB_EPS))

    def compute(self) -> dict[str, float]:
        return {"wfm": float(np.mean(self.values))}


def evaluate_sod(pairs, per_image: list[dict] | None = None) -> dict[str, float]:
    """Score an iterable of (pred uint8, gt uint8) pairs with every SOD metric; returns a flat dict.

    ``per_image``: when a list is given, one ``{"mae", "sm"}`` dict per pair is appended to it (the values
    the dataset means are taken over; each image is scored once).
    """
    ms = [MAE(), Fmeasure(), Smeasure(), Emeasure(), WeightedFmeasure()]
    n = 0
    for pred, gt in pairs:
        for m in ms:
            m.update(pred, gt)
        if per_image is not None:
            per_image.append({"mae": ms[0].values[-1], "sm": ms[2].values[-1]})
        n += 1
    out: dict[str, float] = {"n_images": n}
    for m in ms:
        out.update(m.compute())
    return out


def evaluate_sod_folder(predictions, root, stimuli: list[str] | None = None) -> tuple[dict, list[dict]]:
    """Score predictions (mapping stimulus id → (H, W) map, any real values: min–max normalised as in
    PySODMetrics) against the masks of an image/mask folder.

    Masks are read by :func:`saliency.readers.sod.read_sod_mask` (the reader training uses): rotated masks are
    turned back, masks of square images are counted as ambiguous. A prediction for an image whose mask is
    stored transposed may come in either orientation: the image's, or the stored mask's (published maps of
    other models often are); the latter is turned exactly like the mask (90° clockwise) and counted in
    ``prediction_orientation``. Returns (summary: every metric, ``n_images``, ``mask_orientation`` and
    ``prediction_orientation``; per-image rows: stimulus, mae, sm).
    """
    from saliency.readers.sod import SODMasks

    folder = SODMasks(root)
    names = folder.stimuli if stimuli is None else list(stimuli)
    missing = [s for s in names if s not in predictions]
    if missing:
        raise SchemaError(f"{len(missing)} SOD images have no prediction, e.g. {missing[:3]}")

    turned: list[str] = []

    def pairs():
        for s in names:
            gt = folder.mask(s)
            pred = np.asarray(predictions[s])
            if (pred.shape != gt.shape and pred.shape[:2] == gt.shape[1::-1]
                    and Path(s).stem in folder.orientation.rotated_ids):
                pred = np.ascontiguousarray(np.rot90(pred, -1))   # stored like the mask: turned like it
                turned.append(s)
            if pred.shape != gt.shape:
                raise SchemaError(f"prediction for {s!r} is {pred.shape[1]}×{pred.shape[0]} px, its image is "
                                  f"{gt.shape[1]}×{gt.shape[0]}")
            yield pred, gt

    per_image: list[dict] = []
    out: dict = evaluate_sod(pairs(), per_image)
    rows = [{"stimulus": s, **v} for s, v in zip(names, per_image, strict=True)]
    out["mask_orientation"] = folder.orientation.to_dict()
    out["prediction_orientation"] = {"as_given": len(names) - len(turned), "rotated": len(turned),
                                     "rotated_ids": sorted(turned)}
    return out, rows

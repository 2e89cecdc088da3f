"""Figures for reports and notebooks: heat-map overlays, PNG encoding, training curves, metric bars.

Everything returns numpy arrays or PNG bytes; matplotlib runs on the non-interactive Agg canvas
(no global ``pyplot`` state is touched).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def to_png(img: np.ndarray) -> bytes:
    """PNG bytes of an (H, W) uint8 grey or (H, W, 3|4) uint8 image (deterministic: no timestamps)."""
    from PIL import Image

    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"to_png expects uint8, got {arr.dtype}")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def normalize_map(smap: np.ndarray, *, log_density: bool = False) -> np.ndarray:
    """Scale a saliency map to [0, 1] (min-max). ``log_density``: exponentiate first.

    smap: (H, W) float. Constant maps become all zeros.
    """
    m = np.asarray(smap, dtype=np.float64)
    if log_density:
        m = np.exp(m - np.nanmax(m))
    lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
    if not np.isfinite(hi - lo) or hi - lo <= 0:
        return np.zeros(m.shape, dtype=np.float32)
    return ((m - lo) / (hi - lo)).astype(np.float32)


def colorize(smap01: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """(H, W) in [0, 1] → (H, W, 3) uint8 through a matplotlib colormap."""
    from matplotlib import colormaps

    rgba = colormaps[cmap](np.clip(smap01, 0.0, 1.0))
    return (rgba[..., :3] * 255.0 + 0.5).astype(np.uint8)


def resize_map(smap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an (h, w) float map to (height, width) (for attention maps at feature scale)."""
    from PIL import Image

    m = np.asarray(smap, dtype=np.float32)
    if m.shape == (height, width):
        return m
    return np.asarray(Image.fromarray(m, mode="F").resize((width, height), Image.BILINEAR), dtype=np.float32)


def overlay(image: np.ndarray, smap: np.ndarray, *, alpha: float = 0.55, cmap: str = "inferno",
            log_density: bool = False) -> np.ndarray:
    """Heat map over an image: (H, W, 3) uint8 image + (h, w) map → (H, W, 3) uint8.

    The map is min-max normalised (``log_density`` exponentiates it first), resized to the image and
    blended with weight ``alpha * value`` so low-saliency regions keep the image visible.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3].astype(np.float32)
    h, w = img.shape[:2]
    m = resize_map(normalize_map(smap, log_density=log_density), h, w)
    color = colorize(m, cmap).astype(np.float32)
    a = (alpha * np.sqrt(m))[..., None]
    return (img * (1.0 - a) + color * a + 0.5).clip(0, 255).astype(np.uint8)


def draw_points(image: np.ndarray, x_px: np.ndarray, y_px: np.ndarray, *, radius: int = 3,
                color: Sequence[int] = (0, 255, 120)) -> np.ndarray:
    """Mark fixations (0-based stimulus pixels) as small filled discs; returns a new uint8 image."""
    out = np.array(image, dtype=np.uint8, copy=True)
    h, w = out.shape[:2]
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = xx**2 + yy**2 <= radius**2
    for x, y in zip(np.asarray(x_px, float), np.asarray(y_px, float), strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        cx, cy = int(x), int(y)
        ys, xs = cy + yy[disc], cx + xx[disc]
        ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        out[ys[ok], xs[ok]] = color
    return out


def thumbnail(img: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Downscale a uint8 image so its longer side is at most ``max_side`` (Lanczos)."""
    from PIL import Image

    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img
    return np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _fig_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


_IGNORED_CURVE_KEYS = {"epoch", "step", "time", "time_s", "elapsed_s", "lr_step", "wall_s", "seconds",
                       "epoch_s", "images_per_s", "best"}  # timings and the running best: not curves


def curve_series(records: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, tuple[list[float], list[float]]]]:
    """Split metrics.jsonl records into series: x-axis name and {key: (xs, ys)} of numeric values."""
    xkey = "epoch" if any("epoch" in r for r in records) else ("step" if any("step" in r for r in records) else "")
    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, r in enumerate(records):
        x = r.get(xkey, i) if xkey else i
        for k, v in r.items():
            if k in _IGNORED_CURVE_KEYS or isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if not np.isfinite(v) or not isinstance(x, int | float):
                continue
            xs, ys = series.setdefault(k, ([], []))
            xs.append(float(x))
            ys.append(float(v))
    return xkey or "record", series


def training_curves_png(records: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Loss curves (keys containing 'loss') and every other numeric metric, one panel each group."""
    xname, series = curve_series(records)
    if not series:
        return None
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    lrs = {k: v for k, v in series.items() if k.lower() in ("lr", "learning_rate") and k not in losses}
    others = {k: v for k, v in series.items() if k not in losses and k not in lrs}
    groups = [(t, g) for t, g in (("loss", losses), ("metrics", others), ("learning rate", lrs)) if g]
    fig = _figure(4.2 * len(groups), 3.2)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (title, group) in zip(axes, groups, strict=True):
        for k, (xs, ys) in sorted(group.items()):
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, ms=3, label=k)
        ax.set_title(title)
        ax.set_xlabel(xname)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _fig_png(fig)


def metric_bars_png(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> bytes | None:
    """Grouped bars: one panel per metric, one bar per row (model and baselines)."""
    metrics = [m for m in metrics if any(np.isfinite(r.get(m, np.nan)) for r in rows.values())]
    if not metrics or not rows:
        return None
    names = list(rows)
    fig = _figure(min(2.4 * len(metrics), 14), 2.9)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    colors = ["#c0392b" if i == 0 else "#7f8c8d" for i in range(len(names))]
    for ax, m in zip(axes, metrics, strict=True):
        vals = [float(rows[n].get(m, np.nan)) for n in names]
        ax.bar(range(len(names)), vals, color=colors)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(m, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    return _fig_png(fig)

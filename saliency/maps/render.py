"""Pictures of ground truth: a heat-map overlay of a map on its stimulus, with fixations and scanpaths.

Uses PIL for drawing and a matplotlib colormap (no pyplot figure, so no display backend is needed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from saliency.errors import ConfigError


def heatmap_overlay(image: np.ndarray, saliency: np.ndarray, *, cmap: str = "jet", alpha: float = 0.6,
                    gamma: float = 0.5) -> np.ndarray:
    """Blend a colour-mapped map over an image. image: (H, W, 3) uint8; saliency: (H, W) any scale.

    Each pixel's blend weight is ``alpha · (s / max s) ** gamma``, so unlooked-at regions show the image.
    Returns (H, W, 3) uint8.
    """
    import matplotlib

    if image.shape[:2] != saliency.shape:
        raise ConfigError(f"image is {image.shape[1]}×{image.shape[0]} px but the map is "
                          f"{saliency.shape[1]}×{saliency.shape[0]}")
    s = np.asarray(saliency, dtype=np.float64)
    peak = s.max()
    s = s / peak if peak > 0 else np.zeros_like(s)
    try:
        colours = matplotlib.colormaps[cmap](s)[..., :3]
    except KeyError as exc:
        raise ConfigError(f"unknown matplotlib colormap {cmap!r}") from exc
    wgt = (alpha * np.clip(s, 0, 1) ** gamma)[..., None]
    out = (1.0 - wgt) * image.astype(np.float64) / 255.0 + wgt * colours
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def draw_scanpaths(img: Image.Image, fixations: pd.DataFrame, *, lines: bool = True, radius_px: float = 4.0,
                   cmap: str = "tab20") -> Image.Image:
    """Draw each observer's scanpath (lines in fixation order) and fixations (dots) on ``img`` in place.

    fixations: canonical-table rows (``observer``, ``trial``, ``index``, ``x``, ``y`` in stimulus px).
    Pixel centres are at ``x + 0.5`` in PIL's coordinates; the first fixation of a trial is ringed.
    """
    import matplotlib

    draw = ImageDraw.Draw(img)
    palette = matplotlib.colormaps[cmap]
    observers = sorted(fixations["observer"].unique().tolist())
    for k, obs in enumerate(observers):
        colour = tuple(int(255 * c) for c in palette(k % palette.N)[:3])
        rows = fixations[fixations["observer"] == obs].sort_values(["trial", "index"])
        for _, trial in rows.groupby("trial", sort=True):
            pts = list(zip((trial["x"] + 0.5).tolist(), (trial["y"] + 0.5).tolist(), strict=True))
            if lines and len(pts) > 1:
                draw.line(pts, fill=colour, width=2)
            for j, (x, y) in enumerate(pts):
                r = radius_px * (1.6 if j == 0 else 1.0)
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=(255, 255, 255))
    return img


def render_ground_truth(image: np.ndarray, saliency: np.ndarray, fixations: pd.DataFrame, *, cmap: str = "jet",
                        alpha: float = 0.6, scanpaths: bool = True, title: str | None = None,
                        extra: list[tuple[str, np.ndarray]] | None = None) -> Image.Image:
    """Side-by-side panels: [stimulus + scanpaths | heat-map overlay + fixations | extra overlays...].

    extra: (label, (H, W) map) pairs rendered as further overlays (e.g. a model's attention maps).
    """
    h, w = saliency.shape
    left = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
    draw_scanpaths(left, fixations, lines=scanpaths)
    right = Image.fromarray(heatmap_overlay(image, saliency, cmap=cmap, alpha=alpha))
    draw_scanpaths(right, fixations, lines=False, radius_px=2.5)
    panels = [("fixations and scanpaths", left), ("ground-truth density", right)]
    for label, m in extra or []:
        if m.shape != (h, w):
            m = np.asarray(Image.fromarray(np.asarray(m, np.float32)).resize((w, h), Image.BILINEAR))
        panels.append((label, Image.fromarray(heatmap_overlay(image, m, cmap=cmap, alpha=alpha))))
    band = 22
    canvas = Image.new("RGB", (w * len(panels), h + band), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k, (label, panel) in enumerate(panels):
        canvas.paste(panel, (k * w, band))
        text = label if k or not title else f"{title}: {label}"
        draw.text((k * w + 6, 5), text, fill=(0, 0, 0))
    return canvas

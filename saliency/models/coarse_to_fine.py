"""Coarse-to-fine saliency inference: a cheap coarse pass picks where to spend the fine model.

The idea of Dynamic Capacity Networks (Almahairi et al., ICML 2016, arXiv:1511.07838): run a low-capacity
model everywhere (here: on the downscaled image), then a high-capacity model only on the few most salient
regions at full resolution, and combine. Generic over two callables mapping images (B, 3, H, W) to maps
(B, 1, h, w) at any resolution (e.g. two :class:`~torch.nn.Module` saliency nets, or one net used twice).

Combination (``calibrate``):

* ``"mass"`` (default; for density-like maps): both maps are turned into non-negative densities
  (``exp`` for log-densities, else clamped at 0), the fine patch is rescaled so that its mass equals the
  coarse map's mass over the same box, and pasted; the result is re-normalised to sum 1 (returned as a
  log-density when ``log_density``). A fine model whose output is normalised per input (log-softmax over a
  crop) is thus made comparable with the coarse map.
* ``"none"``: the fine values are pasted as they are (e.g. SOD logits of a fully convolutional net).

:meth:`CoarseToFine.run` also reports the compute saved (multiply-adds counted with
:class:`torch.utils.flop_counter.FlopCounterMode`, and wall time) and the accuracy lost against the full
fine pass (CC and KL between the combined map and the full fine map, MIT-benchmark definitions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from saliency.errors import ConfigError
from saliency.models.blocks.cost import forward_macs
from saliency.models.map_similarity import kl_divergence, pearson_cc

MapFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class CoarseToFineConfig:
    """Settings of :class:`CoarseToFine`.

    coarse_scale: the coarse model sees the image resized by this factor (0 < s <= 1).
    patch_px: side of the grid cells (full-resolution pixels) among which the top-k are refined.
    top_k: number of cells refined by the fine model per image.
    context_px: extra border given to the fine model around each cell (cropped away after).
    calibrate: "mass" or "none" (see the module docstring).
    log_density: maps (inputs of the combination and its output) are log-densities.
    """

    coarse_scale: float = 0.25
    patch_px: int = 64
    top_k: int = 4
    context_px: int = 16
    calibrate: str = "mass"
    log_density: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.coarse_scale <= 1:
            raise ConfigError(f"coarse_scale must be in (0, 1], got {self.coarse_scale}")
        if self.patch_px < 1 or self.top_k < 1 or self.context_px < 0:
            raise ConfigError(f"need patch_px >= 1, top_k >= 1, context_px >= 0; got {self.patch_px}, "
                              f"{self.top_k}, {self.context_px}")
        if self.calibrate not in ("mass", "none"):
            raise ConfigError(f"calibrate must be 'mass' or 'none', got {self.calibrate!r}")


@dataclass
class ComputeReport:
    """What the coarse-to-fine pass cost and lost, against one full-resolution fine pass.

    MACs are multiply-accumulates of matmuls/convolutions (FlopCounterMode FLOPs / 2); times are seconds of
    wall time of the un-instrumented passes. ``cc``/``kl``: mean over images of CC and KL(full ‖ combined)
    between the densities of the combined map and of the full fine map. ``boxes``: per image, the refined
    cells as (y0, x0, y1, x1) full-resolution pixel boxes.
    """

    coarse_macs: int | None = None
    fine_patch_macs: int | None = None
    full_fine_macs: int | None = None
    macs_saved_fraction: float | None = None
    coarse_time_s: float = 0.0
    fine_patch_time_s: float = 0.0
    full_fine_time_s: float | None = None
    time_saved_fraction: float | None = None
    refined_area_fraction: float = 0.0
    cc: float | None = None
    kl: float | None = None
    boxes: list[list[tuple[int, int, int, int]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CoarseToFineResult:
    """``map``: combined (B, 1, H, W) at input resolution; ``report``: :class:`ComputeReport`."""

    map: Tensor
    report: ComputeReport


def _to_density(s: Tensor, log_density: bool) -> Tensor:
    return s.exp() if log_density else s.clamp(min=0)


def _resize(m: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(m.shape[-2:]) == tuple(size):
        return m
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False)


class CoarseToFine(nn.Module):
    """Coarse map everywhere + fine map on the top-k most salient cells (see the module docstring).

    ``coarse``/``fine``: callables (B, 3, h, w) → (B, 1, h', w'); if they are modules they are registered
    as sub-modules (so ``.eval()`` reaches them). ``forward(images)`` → combined (B, 1, H, W).
    """

    def __init__(self, coarse: MapFn, fine: MapFn, config: CoarseToFineConfig | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        base = config or CoarseToFineConfig()
        self.config = CoarseToFineConfig(**{**asdict(base), **overrides})
        self.coarse = coarse
        self.fine = fine

    # -- pieces ---------------------------------------------------------------------------------------
    def coarse_map(self, images: Tensor) -> Tensor:
        """Coarse map of the downscaled images, resized to the input size (B, 1, H, W)."""
        h, w = images.shape[-2:]
        s = self.config.coarse_scale
        small = images if s == 1 else F.interpolate(
            images, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", align_corners=False,
            antialias=True)
        return _resize(self.coarse(small), (h, w))

    def select_cells(self, coarse: Tensor) -> list[list[tuple[int, int, int, int]]]:
        """Top-k grid cells by mean coarse density, per image → boxes (y0, x0, y1, x1)."""
        cfg = self.config
        h, w = coarse.shape[-2:]
        p = cfg.patch_px
        rows, cols = math.ceil(h / p), math.ceil(w / p)
        dens = _to_density(coarse, cfg.log_density)
        # mean over each (possibly partial) cell: sum-pool the zero-padded map, divide by the cell area
        padded = F.pad(dens, (0, cols * p - w, 0, rows * p - h))
        sums = F.avg_pool2d(padded, p) * (p * p)
        ones = F.pad(torch.ones_like(dens[:1]), (0, cols * p - w, 0, rows * p - h))
        area = F.avg_pool2d(ones, p) * (p * p)
        score = (sums / area).flatten(1)  # (B, rows·cols)
        k = min(cfg.top_k, score.shape[1])
        idx = score.topk(k, dim=1).indices
        boxes = []
        for row in idx.tolist():
            img = []
            for i in row:
                r, c = divmod(i, cols)
                img.append((r * p, c * p, min(h, (r + 1) * p), min(w, (c + 1) * p)))
            boxes.append(img)
        return boxes

    def _crops(self, images: Tensor, boxes: list[list[tuple[int, int, int, int]]]
               ) -> tuple[Tensor, list[tuple[int, int, int, int, int, int, int, int]]]:
        """Same-size crops (cell + context, shifted to stay inside the image) and where each cell lies."""
        cfg = self.config
        h, w = images.shape[-2:]
        ch, cw = min(h, cfg.patch_px + 2 * cfg.context_px), min(w, cfg.patch_px + 2 * cfg.context_px)
        crops, where = [], []
        for b, img_boxes in enumerate(boxes):
            for y0, x0, y1, x1 in img_boxes:
                cy0 = min(max(0, y0 - cfg.context_px), h - ch)
                cx0 = min(max(0, x0 - cfg.context_px), w - cw)
                crops.append(images[b, :, cy0:cy0 + ch, cx0:cx0 + cw])
                where.append((b, y0, x0, y1, x1, cy0, cx0, 0))
        return torch.stack(crops), where

    def combine(self, coarse: Tensor, fine_crops: Tensor, where: list[tuple[int, ...]]) -> Tensor:
        """Paste the fine cells into the coarse map (calibrated per ``config.calibrate``)."""
        cfg = self.config
        mass = cfg.calibrate == "mass"
        out = _to_density(coarse, cfg.log_density) if mass else coarse.clone()
        base = out.clone()
        for i, (b, y0, x0, y1, x1, cy0, cx0, _) in enumerate(where):
            patch = fine_crops[i:i + 1, :, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
            if mass:
                patch = _to_density(patch, cfg.log_density)
                target = base[b:b + 1, :, y0:y1, x0:x1].sum()
                patch = patch * (target / patch.sum().clamp(min=torch.finfo(patch.dtype).tiny))
            out[b:b + 1, :, y0:y1, x0:x1] = patch
        if mass:
            out = out / out.sum(dim=(2, 3), keepdim=True).clamp(min=torch.finfo(out.dtype).tiny)
            if cfg.log_density:
                out = out.clamp(min=torch.finfo(out.dtype).tiny).log()
        return out

    def _fine_cells(self, images: Tensor, boxes: list[list[tuple[int, int, int, int]]]
                    ) -> tuple[Tensor, list[tuple[int, ...]]]:
        crops, where = self._crops(images, boxes)
        return _resize(self.fine(crops), tuple(crops.shape[-2:])), where

    # -- public ---------------------------------------------------------------------------------------
    def forward(self, images: Tensor) -> Tensor:
        coarse = self.coarse_map(images)
        boxes = self.select_cells(coarse)
        fine, where = self._fine_cells(images, boxes)
        return self.combine(coarse, fine, where)

    @torch.no_grad()
    def run(self, images: Tensor, *, compare: bool = True, count_macs: bool = True) -> CoarseToFineResult:
        """Combined map plus a :class:`ComputeReport`; ``compare`` also runs the full fine pass (for the
        saved-compute ratios and CC/KL), ``count_macs`` repeats the passes under a FLOP counter."""
        h, w = images.shape[-2:]
        t0 = time.perf_counter()
        coarse = self.coarse_map(images)
        t1 = time.perf_counter()
        boxes = self.select_cells(coarse)
        fine, where = self._fine_cells(images, boxes)
        combined = self.combine(coarse, fine, where)
        t2 = time.perf_counter()
        rep = ComputeReport(coarse_time_s=t1 - t0, fine_patch_time_s=t2 - t1, boxes=boxes)
        rep.refined_area_fraction = sum((y1 - y0) * (x1 - x0) for img in boxes for y0, x0, y1, x1 in img) / (
            images.shape[0] * h * w)
        full = None
        if compare:
            t3 = time.perf_counter()
            full = _resize(self.fine(images), (h, w))
            rep.full_fine_time_s = time.perf_counter() - t3
            rep.time_saved_fraction = 1 - (rep.coarse_time_s + rep.fine_patch_time_s) / rep.full_fine_time_s
            ref = _to_density(full, self.config.log_density)
            got = _to_density(combined, self.config.log_density)
            rep.cc = float(pearson_cc(got.double(), ref.double()).mean())
            rep.kl = float(kl_divergence(ref.double(), got.double()).mean())
        if count_macs:
            rep.coarse_macs = forward_macs(self.coarse_map, images)
            crops, _ = self._crops(images, boxes)
            rep.fine_patch_macs = forward_macs(self.fine, crops)
            if compare:
                rep.full_fine_macs = forward_macs(self.fine, images)
                rep.macs_saved_fraction = (1 - (rep.coarse_macs + rep.fine_patch_macs) / rep.full_fine_macs
                                           if rep.full_fine_macs else None)
        return CoarseToFineResult(map=combined, report=rep)

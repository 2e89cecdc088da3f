"""Attention to scale: per-location soft selection among pyramid levels (Chen et al., CVPR 2016,
arXiv:1511.03339)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiScaleAttentionFusion(nn.Module):
    """Fuse S pyramid features into one map with a per-location softmax over scales.

    ``features``: list of S tensors (B, C_s, H_s, W_s). Each is projected to ``out_channels`` by a 1×1 conv
    (skipped when C_s already equals it and ``project=False``), resized bilinearly to a common size (that of
    ``features[0]`` — the finest level by convention — unless ``size`` is given), then an attention head
    (3×3 conv-ReLU-1×1 conv on the concatenated features) gives S logits per location;
    ``w = softmax_s(logits)``, ``out = Σ_s w_s · F_s`` → (B, out_channels, H, W). The decoder thus chooses
    the scale per location. Init: the last conv is zero-initialised, so weights start uniform (1/S).
    ``self.attention``: scale weights (B, S, H, W), summing to 1 over S.
    Cost: S·C_s·C_out·H·W (projections) + 9·S·C_out·hidden·H·W + hidden·S·H·W MACs.
    """

    def __init__(self, channels: Sequence[int], out_channels: int | None = None, hidden: int | None = None,
                 project: bool = True) -> None:
        super().__init__()
        channels = list(channels)
        if len(channels) < 1:
            raise ValueError("MultiScaleAttentionFusion needs at least one scale")
        out_channels = out_channels or channels[0]
        self.num_scales = len(channels)
        self.proj = nn.ModuleList([
            nn.Conv2d(c, out_channels, 1) if (project or c != out_channels) else nn.Identity()
            for c in channels])
        hidden = hidden or max(8, out_channels // 2)
        self.score = nn.Sequential(
            nn.Conv2d(out_channels * self.num_scales, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, self.num_scales, 1))
        nn.init.zeros_(self.score[-1].weight)
        nn.init.zeros_(self.score[-1].bias)
        self.attention: Tensor | None = None

    def forward(self, features: Sequence[Tensor], size: tuple[int, int] | None = None) -> Tensor:
        if len(features) != self.num_scales:
            raise ValueError(f"expected {self.num_scales} feature maps, got {len(features)}")
        if size is None:
            size = (features[0].shape[-2], features[0].shape[-1])
        resized = []
        for proj, f in zip(self.proj, features, strict=True):
            f = proj(f)
            if f.shape[-2:] != torch.Size(size):
                f = F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            resized.append(f)
        stacked = torch.stack(resized, dim=1)  # (B, S, C, H, W)
        weights = self.score(torch.cat(resized, dim=1)).softmax(dim=1)  # (B, S, H, W)
        self.attention = weights.detach()
        return (stacked * weights.unsqueeze(2)).sum(dim=1)

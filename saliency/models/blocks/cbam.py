"""Convolutional Block Attention Module (Woo et al., ECCV 2018, arXiv:1807.06521)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS


@BLOCKS.register("cbam")
class CBAM(nn.Module):
    """CBAM: channel attention (shared MLP over avg- and max-pooled descriptors) then spatial attention.

    ``M_c = σ(MLP(AvgPool(x)) + MLP(MaxPool(x)))``, ``x' = M_c · x``;
    ``M_s = σ(conv7×7([mean_c(x'); max_c(x')]))``, ``out = M_s · x'``. Hidden width
    ``max(min_hidden, C // reduction)``, reduction 16.
    ``self.attention``: spatial map M_s (B, 1, H, W); ``self.channel_attention``: M_c (B, C, 1, 1).
    Cost: O(B·C·H·W) + 2·49·H·W MACs for the spatial conv. Not identity at init (gates ≈ 0.5).
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.attention: Tensor | None = None
        self.channel_attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        mc = (self.mlp(avg) + self.mlp(mx)).sigmoid()
        x = x * mc
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        ms = self.spatial(desc).sigmoid()
        self.channel_attention = mc.detach()
        self.attention = ms.detach()
        return x * ms

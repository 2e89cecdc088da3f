"""Decoder built for salient-object detection: attention on the skips, global context, deep supervision.

Encoder pyramid (strides 2…32) → one feature map at stride 32 / 2**L, plus one side logit map per level.

* **Global context** (PiCANet's global contextual attention, Liu et al. CVPR 2018; PoolNet's global
  guidance, Liu et al. CVPR 2019): the deepest feature is reduced to ``C₀`` channels (1×1 conv–BN–ReLU),
  passed through a pixel-wise self-attention block from ``saliency.models.blocks`` (``context``, default
  ``"non_local"``: every stride-32 position attends to all others) and summed with a global-average-pool
  branch. Its projection is added at every decoder level (multi-level aggregation of the global cue).
* **Attention on the skip connections** (``skip_block``, default ``"cbam"``: channel then spatial gates,
  Woo et al. ECCV 2018): each encoder skip is reduced to the level's width and re-weighted before fusion.
* **Top-down fusion**: per level, bilinear upsampling of the coarser decoder feature, concatenation with
  the attended skip, two 3×3 conv–BN–ReLU, plus the upsampled global-context projection.
* **Deep supervision** (DSS, Hou et al. CVPR 2017): a 1×1 conv side output (logits) on the global
  context and on every level; ``forward`` stores them, coarse → fine, in ``self.side_logits`` (at the
  levels' own strides). The loss decides whether to use them (``loss.deep_supervision``).

Widths: ``decoder_channels`` deep → shallow, one per level (L = 1…4 levels); the context has the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError
from saliency.models.decoders import ConvBNReLU


class _SODLevel(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int, c_context: int, skip_block: str) -> None:
        super().__init__()
        from saliency.models.blocks import build_block

        self.lateral = ConvBNReLU(cskip, cout, k=1)
        self.attend = build_block(skip_block, cout)
        self.conv1 = ConvBNReLU(cin + cout, cout)
        self.conv2 = ConvBNReLU(cout, cout)
        self.context = nn.Conv2d(c_context, cout, 1)
        self.side = nn.Conv2d(cout, 1, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        size = skip.shape[-2:]
        s = self.lateral(skip)
        if not isinstance(self.attend, nn.Identity):
            s = self.attend(s.contiguous())
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        y = self.conv2(self.conv1(torch.cat([x, s], 1)))
        return y + F.interpolate(self.context(g), size=size, mode="bilinear", align_corners=False)


class SODDecoder(nn.Module):
    """``forward(features) -> (B, out_channels, H/out_stride, W/out_stride)``; side logits in
    ``self.side_logits`` (list of (B, 1, h_i, w_i), coarse → fine, L + 1 maps).

    ``encoder_channels``/``encoder_strides``: per encoder level, shallow → deep (strides 2 … 32).
    ``skip_block``/``context``: attention block names (``saliency.models.blocks``) or ``"none"``.
    """

    def __init__(self, encoder_channels: Sequence[int], encoder_strides: Sequence[int],
                 decoder_channels: Sequence[int] = (64, 64, 48, 32), *, skip_block: str = "cbam",
                 context: str = "non_local") -> None:
        super().__init__()
        from saliency.models.blocks import build_block

        n_levels = len(decoder_channels)
        if not 1 <= n_levels <= len(encoder_channels) - 1:
            raise ConfigError(f"decoder_channels: expected 1 to {len(encoder_channels) - 1} widths, "
                              f"got {tuple(decoder_channels)!r}")
        c0 = int(decoder_channels[0])
        self.reduce = ConvBNReLU(encoder_channels[-1], c0, k=1)
        self.context = build_block(context, c0)
        self.pool_proj = nn.Sequential(nn.Conv2d(c0, c0, 1), nn.ReLU(inplace=True))
        self.context_side = nn.Conv2d(c0, 1, 1)
        skips = list(encoder_channels[::-1][1:n_levels + 1])
        levels, cin = [], c0
        for cskip, cout in zip(skips, decoder_channels, strict=True):
            levels.append(_SODLevel(cin, cskip, int(cout), c0, skip_block))
            cin = int(cout)
        self.blocks = nn.ModuleList(levels)
        self.n_levels = n_levels
        self.out_stride = int(encoder_strides[-1 - n_levels])
        self.out_channels = int(decoder_channels[-1])
        self.side_logits: list[torch.Tensor] = []

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        g = self.reduce(features[-1])
        if not isinstance(self.context, nn.Identity):
            g = self.context(g.contiguous())
        g = g + self.pool_proj(g.mean(dim=(2, 3), keepdim=True))
        sides = [self.context_side(g)]
        x = g
        for block, skip in zip(self.blocks, list(features[::-1][1:self.n_levels + 1]), strict=True):
            x = block(x, skip, g)
            sides.append(block.side(x))
        self.side_logits = sides
        return x

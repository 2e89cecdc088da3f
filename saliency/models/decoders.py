"""U-Net / FPN-style decoder: encoder pyramid (strides 2…32) → one feature map at a fine stride.

Top-down path (Ronneberger et al. 2015; Lin et al. 2017): start from the deepest feature (optionally
passed through a bottleneck block, e.g. ``"mhsa"`` = a transformer layer over the stride-32 tokens),
then per level: bilinear upsampling to the next skip's size, concatenation with that skip, two 3×3
conv–BN–ReLU. ``decoder_channels`` gives the widths of the levels used (deep → shallow); with L levels
the output stride is 32 / 2**L. Optionally the outputs of all levels are fused by the blocks'
``MultiScaleAttentionFusion`` (attention-weighted sum of the upsampled pyramid).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from saliency.errors import ConfigError


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(cin + cskip, cout)
        self.conv2 = ConvBNReLU(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv2(self.conv1(torch.cat([x, skip], 1)))


class UNetDecoder(nn.Module):
    """``forward(features) -> (B, out_channels, H/out_stride, W/out_stride)``.

    ``encoder_channels``/``encoder_strides``: per encoder level, shallow → deep (strides 2, 4, 8, 16, 32).
    ``decoder_channels``: widths of the decoder levels, deep → shallow, 1 to len(encoder)−1 of them.
    """

    def __init__(self, encoder_channels: Sequence[int], encoder_strides: Sequence[int],
                 decoder_channels: Sequence[int] = (64, 48, 32), *, bottleneck: str | None = None,
                 fusion: bool = False) -> None:
        super().__init__()
        from saliency.models.blocks import build_block

        n_levels = len(decoder_channels)
        if not 1 <= n_levels <= len(encoder_channels) - 1:
            raise ConfigError(f"decoder_channels: expected 1 to {len(encoder_channels) - 1} widths, "
                              f"got {tuple(decoder_channels)!r}")
        self.bottleneck = build_block(bottleneck, encoder_channels[-1])
        skips = list(encoder_channels[::-1][1:n_levels + 1])
        cin = encoder_channels[-1]
        blocks = []
        for cskip, cout in zip(skips, decoder_channels, strict=True):
            blocks.append(_UpBlock(cin, cskip, cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.n_levels = n_levels
        self.out_stride = int(encoder_strides[-1 - n_levels])
        self.fusion: nn.Module | None = None
        if fusion:
            from saliency.models.blocks import MultiScaleAttentionFusion

            # fusion convention: finest level first
            self.fusion = MultiScaleAttentionFusion(list(decoder_channels)[::-1], decoder_channels[-1])
        self.out_channels = int(decoder_channels[-1])

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        if not isinstance(self.bottleneck, nn.Identity):
            x = self.bottleneck(x.contiguous())
        skips = list(features[::-1][1:self.n_levels + 1])
        outs = []
        for block, skip in zip(self.blocks, skips, strict=True):
            x = block(x, skip)
            outs.append(x)
        if self.fusion is not None:
            x = self.fusion([o.contiguous() for o in outs[::-1]])
        return x

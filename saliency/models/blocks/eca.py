"""Efficient Channel Attention (Wang et al., CVPR 2020, arXiv:1910.03151)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS


def eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """Adaptive 1-D kernel size ``k = |log₂(C)/γ + b/γ|_odd`` (ECA-Net eq. 12; γ=2, b=1).

    >>> [eca_kernel_size(c) for c in (16, 64, 256, 512, 2048)]
    [3, 3, 5, 5, 7]
    """
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@BLOCKS.register("eca")
class EfficientChannelAttention(nn.Module):
    """ECA: channel gates from a 1-D convolution across the pooled channel descriptor (no reduction).

    ``s = σ(conv1d_k(GAP(x)))``, ``out = x · s`` with k from :func:`eca_kernel_size` unless given.
    ``self.attention``: channel weights (B, C, 1, 1). Cost: O(B·C·H·W) + k·C MACs, k parameters.
    Not identity at init (gates ≈ 0.5, as in the paper).
    """

    def __init__(self, channels: int, kernel_size: int | None = None, gamma: float = 2.0, b: float = 1.0) -> None:
        super().__init__()
        self.kernel_size = kernel_size or eca_kernel_size(channels, gamma, b)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, self.kernel_size, padding=self.kernel_size // 2, bias=False)
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        y = self.pool(x).flatten(2).transpose(1, 2)  # (B, 1, C)
        s = self.conv(y).transpose(1, 2).unsqueeze(-1).sigmoid()  # (B, C, 1, 1)
        self.attention = s.detach()
        return x * s

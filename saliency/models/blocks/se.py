"""Squeeze-and-Excitation channel attention (Hu et al., CVPR 2018, arXiv:1709.01507)."""

from __future__ import annotations

from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS


@BLOCKS.register("se")
class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation: channel gates from a bottleneck MLP over global average pooling.

    ``s = σ(W₂ δ(W₁ GAP(x)))``, ``out = x · s`` with hidden width ``max(min_hidden, C // reduction)``
    (reduction 16 as in the paper; the floor keeps narrow stages from collapsing to 1–2 units).
    ``self.attention``: channel weights (B, C, 1, 1) in (0, 1). Cost: O(B·C·H·W) + 2·C·hidden MACs.
    Not identity at init (gates ≈ 0.5, as in the paper).
    """

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        s = self.fc2(self.act(self.fc1(self.pool(x)))).sigmoid()
        self.attention = s.detach()
        return x * s

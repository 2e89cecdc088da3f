"""Self-attention module of SAGAN (Zhang et al., ICML 2019, arXiv:1805.08318)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from saliency.models.blocks._base import BLOCKS, attend, received_attention, wants_map


@BLOCKS.register("sagan")
class SelfAttention2d(nn.Module):
    """SAGAN self-attention: ``out = γ · v(Σ_i β_ji h(x_i)) + x`` with ``β = softmax(f(x)ᵀ g(x))``.

    f, g: 1×1 convs to ``max(1, C // 8)`` channels (query/key), h: 1×1 conv C → C, v: 1×1 conv C → C.
    γ is a learnable scalar initialised to 0, so the block is exactly the identity at initialisation.
    No 1/√d scaling (as published).
    ``self.attention``: mean attention each position receives, (B, 1, H, W), sums to 1 over H·W.
    Cost: O((H·W)²·C) time, O((H·W)²) memory.
    """

    def __init__(self, channels: int, reduction: int = 8, record_attention: bool | None = None) -> None:
        super().__init__()
        qk = max(1, channels // reduction)
        self.f = nn.Conv2d(channels, qk, 1)
        self.g = nn.Conv2d(channels, qk, 1, bias=False)  # a key bias cancels in the softmax
        self.h = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.record_attention = record_attention
        self.attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        b, c, hh, ww = x.shape
        q = self.f(x).flatten(2).transpose(1, 2)
        k = self.g(x).flatten(2).transpose(1, 2)
        val = self.h(x).flatten(2).transpose(1, 2)
        o, weights = attend(q, k, val, scale=1.0, need_weights=wants_map(self))
        self.attention = None  # fused path: no map (never a stale one)
        if weights is not None:
            self.attention = received_attention(weights).detach().reshape(b, 1, hh, ww)
        o = self.v(o.transpose(1, 2).reshape(b, c, hh, ww))
        return x + self.gamma * o

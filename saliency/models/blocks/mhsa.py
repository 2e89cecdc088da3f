"""Transformer bottleneck: multi-head self-attention + MLP, pre-norm, residual, any-size positions.

References: Vaswani et al. 2017 (MHSA); Dosovitskiy et al. 2021 (pre-norm ViT block); Srinivas et al. 2021
(BoTNet: MHSA in the CNN bottleneck); Chu et al. 2023 (CPVT: conditional positional encoding).
"""

from __future__ import annotations

from torch import Tensor, nn

from saliency.models.blocks._base import (
    BLOCKS,
    TransformerBlock,
    attend,
    default_heads,
    received_attention,
    wants_map,
)


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all H·W tokens, channels-last (B, H, W, C) → (B, H, W, C).

    ``self.attention``: mean attention each position receives (over heads and queries), (B, 1, H, W).
    Cost: O((H·W)²·C).
    """

    def __init__(self, channels: int, heads: int | None = None, qkv_bias: bool = True,
                 record_attention: bool | None = None) -> None:
        super().__init__()
        self.heads = heads or default_heads(channels)
        if channels % self.heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({self.heads})")
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)
        self.record_attention = record_attention
        self.attention: Tensor | None = None

    def forward(self, t: Tensor) -> Tensor:
        b, h, w, c = t.shape
        qkv = self.qkv(t).reshape(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out, weights = attend(qkv[0], qkv[1], qkv[2], need_weights=wants_map(self))
        self.attention = None  # fused path: no map (never a stale one)
        if weights is not None:  # (B, heads, N, N)
            self.attention = received_attention(weights).mean(1).detach().reshape(b, 1, h, w)
        out = out.transpose(1, 2).reshape(b, h, w, c)
        return self.proj(out)


@BLOCKS.register("mhsa")
class MHSABlock(TransformerBlock):
    """Transformer bottleneck block: pre-norm multi-head self-attention + MLP with residuals.

    ``mode``: ``"global"`` (all positions; O((HW)²)), ``"window"`` (non-overlapping ``window``×``window``
    windows with relative position bias, padded for any size; O(HW·w²)) or ``"axial"`` (rows then columns;
    O(HW·(H+W))) for large maps. ``pos``: ``"cpe"`` (conditional positional encoding: zero-initialised
    depthwise 3×3 conv, residual — works at any size), ``"sincos"`` (2-D sinusoidal encoding computed on
    the fly for the input size) or ``"none"``. No learned fixed-size table, so any H, W works.
    Near-identity at init (see :class:`~saliency.models.blocks._base.TransformerBlock`, ``layer_scale``).
    ``self.attention``: mean attention each position receives, (B, 1, H, W).
    """

    def __init__(self, channels: int, heads: int | None = None, *, mode: str = "global", pos: str = "cpe",
                 mlp_ratio: float = 4.0, layer_scale: float | None = 1e-3, window: int = 7,
                 record_attention: bool | None = None) -> None:
        if mode == "global":
            mixer: nn.Module = GlobalAttention(channels, heads, record_attention=record_attention)
        elif mode == "window":
            from saliency.models.blocks.swin import WindowAttention

            mixer = WindowAttention(channels, heads, window=window, shift=0, record_attention=record_attention)
        elif mode == "axial":
            from saliency.models.blocks.axial import AxialAttention

            mixer = AxialAttention(channels, heads, record_attention=record_attention)
        else:
            raise ValueError(f"mode must be 'global', 'window' or 'axial', got {mode!r}")
        super().__init__(channels, mixer, mlp_ratio=mlp_ratio, pos=pos, layer_scale=layer_scale)
        self.mode = mode

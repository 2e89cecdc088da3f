"""Axial attention: self-attention along rows, then along columns (Ho et al. 2019, arXiv:1912.12180;
Wang et al., ECCV 2020, Axial-DeepLab, arXiv:2003.07853)."""

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


class _AxisAttention(nn.Module):
    """Multi-head attention along one axis of channels-last (B, H, W, C) tokens (``axis`` 2 = W, 1 = H)."""

    def __init__(self, channels: int, heads: int, axis: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.heads, self.axis = heads, axis
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)

    def forward(self, t: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        if self.axis == 1:
            t = t.transpose(1, 2)  # attend along H: make it the sequence axis
        b, m, n, c = t.shape
        qkv = self.qkv(t).reshape(b * m, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out, weights = attend(qkv[0], qkv[1], qkv[2], need_weights=need_weights)
        out = out.transpose(1, 2).reshape(b, m, n, c)
        amap = None
        if weights is not None:
            amap = received_attention(weights).mean(1).reshape(b, m, n)  # sums to 1 along the axis
        if self.axis == 1:
            out = out.transpose(1, 2)
            amap = amap.transpose(1, 2) if amap is not None else None
        return out, amap


class AxialAttention(nn.Module):
    """Row attention followed by column attention, channels-last (B, H, W, C) → (B, H, W, C).

    Two stacked 1-D multi-head attentions give every output a receptive field of the whole map at
    O(H·W·(H+W)·C) instead of O((H·W)²·C). Any H, W.
    ``self.attention``: mean of the row and column received-attention maps, (B, 1, H, W); the row part
    sums to 1 along each row, the column part along each column.
    """

    def __init__(self, channels: int, heads: int | None = None, record_attention: bool | None = None) -> None:
        super().__init__()
        heads = heads or default_heads(channels)
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.rows = _AxisAttention(channels, heads, axis=2)
        self.cols = _AxisAttention(channels, heads, axis=1)
        self.proj = nn.Linear(channels, channels)
        self.record_attention = record_attention
        self.attention: Tensor | None = None

    def forward(self, t: Tensor) -> Tensor:
        t, row_map = self.rows(t, wants_map(self))
        t, col_map = self.cols(t, wants_map(self))
        self.attention = None  # fused path: no map (never a stale one)
        if row_map is not None and col_map is not None:
            self.attention = ((row_map + col_map) / 2).unsqueeze(1).detach()
        return self.proj(t)


@BLOCKS.register("axial")
class AxialBlock(TransformerBlock):
    """Axial-attention transformer block: pre-norm row-then-column MHSA + MLP, residual, any H, W.

    Positional encoding ``pos="cpe"`` (zero-initialised depthwise conv) by default, ``"sincos"`` or
    ``"none"``; near-identity at init via LayerScale 1e-3. ``self.attention`` as :class:`AxialAttention`.
    Cost: O(H·W·(H+W)·C + 8·H·W·C²).
    """

    def __init__(self, channels: int, heads: int | None = None, *, pos: str = "cpe", mlp_ratio: float = 4.0,
                 layer_scale: float | None = 1e-3, record_attention: bool | None = None) -> None:
        super().__init__(channels, AxialAttention(channels, heads, record_attention=record_attention),
                         mlp_ratio=mlp_ratio, pos=pos, layer_scale=layer_scale)

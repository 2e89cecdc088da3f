"""Shifted-window self-attention (Swin Transformer; Liu et al., ICCV 2021, arXiv:2103.14030)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from saliency.models.blocks._base import (
    BLOCKS,
    MASK_VALUE,
    TransformerBlock,
    attend,
    default_heads,
    wants_map,
)


def relative_position_index(window: int) -> Tensor:
    """Index into the (2w−1)² bias table for every (query, key) pair of a w×w window → (w², w²) long."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, w², w²) in [0, 2w−2]
    return rel[0] * (2 * window - 1) + rel[1]


def _partition(t: Tensor, window: int) -> Tensor:
    """(B, Hp, Wp, ...) → (B·nW, w·w, ...), windows in row-major order."""
    b, hp, wp = t.shape[0], t.shape[1], t.shape[2]
    rest = t.shape[3:]
    t = t.reshape(b, hp // window, window, wp // window, window, *rest)
    t = t.transpose(2, 3)
    return t.reshape(b * (hp // window) * (wp // window), window * window, *rest)


def _merge(t: Tensor, window: int, b: int | Tensor, hp: int | Tensor, wp: int | Tensor) -> Tensor:
    """Inverse of :func:`_partition`: (B·nW, w·w, ...) → (B, Hp, Wp, ...)."""
    rest = t.shape[2:]
    t = t.reshape(b, hp // window, wp // window, window, window, *rest)
    t = t.transpose(2, 3)
    return t.reshape(b, hp, wp, *rest)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside w×w windows, optionally cyclically shifted, for any H, W.

    Channels-last (B, H, W, C) → (B, H, W, C). The map is zero-padded at the bottom/right to multiples of
    ``window``; padded positions are masked out as keys, so the result does not depend on the padding.
    With ``shift`` > 0 the map is rolled by (−shift, −shift) before partitioning and the Swin attention
    mask forbids attention between the sub-regions that the roll brought together (paper §3.2), so every
    position only attends to positions that are spatial neighbours in the unrolled map.
    Logits get a learned relative position bias from a ((2w−1)², heads) table (paper eq. 4), truncated-
    normal initialised (σ = 0.02).
    ``self.attention``: mean attention each position receives within its window (over heads and the
    window's real, non-padding queries), (B, 1, H, W); sums to 1 over each window.
    Cost: O(H·W·w²·C) (linear in H·W).
    """

    def __init__(self, channels: int, heads: int | None = None, *, window: int = 7, shift: int = 0,
                 qkv_bias: bool = True, record_attention: bool | None = None) -> None:
        super().__init__()
        if not 0 <= shift < window:
            raise ValueError(f"shift must be in [0, window), got shift={shift}, window={window}")
        self.heads = heads or default_heads(channels)
        if channels % self.heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({self.heads})")
        self.window = window
        self.shift = shift
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, self.heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window), persistent=False)
        self.record_attention = record_attention
        self.attention: Tensor | None = None

    def _mask(self, h: Tensor | int, w: Tensor | int, hp: Tensor | int, wp: Tensor | int,
              device: torch.device) -> tuple[Tensor, Tensor]:
        """Additive mask (nW, w², w²) in the rolled frame (0 allowed, MASK_VALUE forbidden) and the
        validity (not padding) of each window position (nW, w²) as float."""
        win, s = self.window, self.shift
        rows = torch.arange(hp, device=device)
        cols = torch.arange(wp, device=device)
        # original coordinates of each rolled position; valid = not padding
        orig_r = torch.remainder(rows + s, hp)
        orig_c = torch.remainder(cols + s, wp)
        valid = (orig_r < h)[:, None] & (orig_c < w)[None, :]  # (Hp, Wp)
        if s > 0:  # Swin regions: [0, Hp−w), [Hp−w, Hp−s), [Hp−s, Hp) per axis, in the rolled frame
            reg_r = (rows >= hp - win).long() + (rows >= hp - s).long()
            reg_c = (cols >= wp - win).long() + (cols >= wp - s).long()
            label = reg_r[:, None] * 3 + reg_c[None, :]
        else:
            label = torch.zeros_like(valid, dtype=torch.long)
        label = _partition(label[None], win)  # (nW, w²)
        valid = _partition(valid[None], win)
        allowed = (label[:, :, None] == label[:, None, :]) & valid[:, None, :]
        return torch.where(allowed, 0.0, MASK_VALUE).float(), valid.float()

    def forward(self, t: Tensor) -> Tensor:
        b, h, w, c = t.shape
        win, s = self.window, self.shift
        pad_h = (win - h % win) % win
        pad_w = (win - w % win) % win
        t = F.pad(t, (0, 0, 0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        if s > 0:
            t = torch.roll(t, shifts=(-s, -s), dims=(1, 2))
        tokens = _partition(t, win)  # (B·nW, w², C)
        n = win * win
        qkv = self.qkv(tokens).reshape(-1, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        rel_bias = self.bias_table[self.bias_index.reshape(-1)].reshape(n, n, self.heads).permute(2, 0, 1)
        mask, valid = self._mask(h, w, hp, wp, t.device)  # (nW, n, n), (nW, n)
        mask = mask.to(t.dtype)
        n_win = mask.shape[0]
        bias = (mask[None, :, None] + rel_bias[None, None]).expand(b, n_win, self.heads, n, n)
        bias = bias.reshape(-1, self.heads, n, n)
        out, weights = attend(qkv[0], qkv[1], qkv[2], bias=bias, need_weights=wants_map(self))
        out = self.proj(out.transpose(1, 2).reshape(-1, n, c))
        out = _merge(out, win, b, hp, wp)
        self.attention = None  # fused path: no map (never a stale one)
        if weights is not None:
            # attention received from the real (non-padding) queries of the window, averaged over heads
            qv = valid.repeat(b, 1)[:, None, :, None]  # (B·nW, 1, n, 1)
            received = (weights * qv).sum(-2).mean(1) / qv.sum(-2).mean(1).clamp(min=1.0)
            amap = _merge(received[..., None], win, b, hp, wp)  # (B, Hp, Wp, 1)
            if s > 0:
                amap = torch.roll(amap, shifts=(s, s), dims=(1, 2))
            self.attention = amap[:, :h, :w].permute(0, 3, 1, 2).detach()
        if s > 0:
            out = torch.roll(out, shifts=(s, s), dims=(1, 2))
        return out[:, :h, :w]


@BLOCKS.register("swin")
class SwinBlockPair(nn.Module):
    """A pair of Swin transformer blocks: regular windows (W-MSA) then shifted windows (SW-MSA).

    Window 7, shift 3 by default; pre-norm, MLP ratio 4, relative position bias, attention mask for the
    shifted windows, padding for any H, W (see :class:`WindowAttention`). No absolute positional encoding
    (the relative bias carries position), ``pos`` can add one. Near-identity at init via LayerScale
    (``layer_scale=1e-3``; ``None`` for the plain Swin residuals).
    ``self.attention``: mean of the two blocks' received-attention maps, (B, 1, H, W).
    Cost: 2 × O(H·W·(w²·C + 8·C²)).
    """

    def __init__(self, channels: int, heads: int | None = None, *, window: int = 7, shift: int | None = None,
                 mlp_ratio: float = 4.0, layer_scale: float | None = 1e-3, pos: str = "none",
                 record_attention: bool | None = None) -> None:
        super().__init__()
        shift = window // 2 if shift is None else shift
        self.regular = TransformerBlock(
            channels, WindowAttention(channels, heads, window=window, shift=0, record_attention=record_attention),
            mlp_ratio=mlp_ratio, pos=pos, layer_scale=layer_scale)
        self.shifted = TransformerBlock(
            channels, WindowAttention(channels, heads, window=window, shift=shift,
                                      record_attention=record_attention),
            mlp_ratio=mlp_ratio, pos="none", layer_scale=layer_scale)

    @property
    def attention(self) -> Tensor | None:
        a, b = self.regular.attention, self.shifted.attention
        if a is None or b is None:
            return None
        return (a + b) / 2

    def forward(self, x: Tensor) -> Tensor:
        return self.shifted(self.regular(x))

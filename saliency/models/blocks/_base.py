"""Shared pieces of the attention blocks: the registry, attention kernels and token-mixer plumbing.

Conventions used by every block in this package:

* tensors are (B, C, H, W) float, any H, W >= 1, batch 1 allowed;
* a block that computes an attention map stores the last one, detached, in ``self.attention``
  (``None`` before the first forward); the shape is documented per block;
* ``record_attention`` of the self-attention blocks: ``None`` (default, "auto") computes the softmax
  explicitly and stores the map in eval mode, and uses the fused
  :func:`torch.nn.functional.scaled_dot_product_attention` kernel (no map) in training mode, where the
  map is not looked at and the O((HW)²) weights are the bottleneck (global MHSA at 60×80: 5× faster);
  ``True``/``False`` force the explicit (with map) / fused (no map) path. Both give the same output.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from saliency.registry import Registry

BLOCKS: Registry = Registry("attention block")

#: Additive mask value for forbidden query/key pairs. Finite (not -inf) so that a query whose keys are all
#: masked (only possible for padding positions that are cropped away) yields a uniform row instead of NaN;
#: exp(-1e4) underflows to exactly 0 in float32, so allowed pairs are unaffected.
MASK_VALUE = -1.0e4


def build_block(name: str | None, channels: int, **kwargs: Any) -> nn.Module:
    """Build the block registered as ``name`` for ``channels`` channels; ``None``/``"none"`` → identity."""
    if name is None or name == "none":
        return nn.Identity()
    return BLOCKS.get(name)(channels, **kwargs)


def wants_map(module: nn.Module) -> bool:
    """Whether ``module`` should compute (and store) its attention map: its ``record_attention`` if set,
    else only in eval mode."""
    record = getattr(module, "record_attention", None)
    return (not module.training) if record is None else bool(record)


def attend(q: Tensor, k: Tensor, v: Tensor, *, scale: float | None = None, bias: Tensor | None = None,
           need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
    """Softmax attention ``softmax(q kᵀ · scale + bias) v``.

    q: (..., L, D), k: (..., S, D), v: (..., S, Dv), bias broadcastable to (..., L, S) (additive, float).
    ``scale`` defaults to 1/√D. Returns (out (..., L, Dv), weights (..., L, S) or ``None``). Without
    ``need_weights`` the fused :func:`~torch.nn.functional.scaled_dot_product_attention` is used.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale), None
    logits = torch.matmul(q, k.transpose(-2, -1)) * scale
    if bias is not None:
        logits = logits + bias
    weights = logits.softmax(dim=-1)
    return torch.matmul(weights, v), weights


def received_attention(weights: Tensor) -> Tensor:
    """Mean attention each key receives: (..., L, S) → (..., S); sums to 1 over S (rows are softmaxes)."""
    return weights.mean(dim=-2)


def default_heads(channels: int, max_heads: int = 4) -> int:
    """Largest head count <= ``max_heads`` that divides ``channels``."""
    for h in range(min(max_heads, channels), 0, -1):
        if channels % h == 0:
            return h
    return 1


class LayerScale(nn.Module):
    """Per-channel learnable scale of a residual branch (Touvron et al. 2021, CaiT), channels-last."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """Transformer feed-forward: Linear(C, r·C) → GELU → Linear(r·C, C), channels-last (..., C)."""

    def __init__(self, channels: int, ratio: float = 4.0) -> None:
        super().__init__()
        hidden = max(1, round(channels * ratio))
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def sincos_2d(height: Tensor | int, width: Tensor | int, channels: int, *, device: torch.device | None = None,
              dtype: torch.dtype = torch.float32, temperature: float = 10000.0) -> Tensor:
    """2-D sine–cosine positional encoding computed on the fly for any size → (H, W, channels).

    A quarter of the channels encodes sin/cos of the row index and a quarter each of the column index
    at geometric frequencies (Vaswani et al. 2017; 2-D split as in MAE / DETR). Channels beyond the largest
    multiple of 4 are zero. Built from ``torch.arange`` so it follows dynamic shapes in ONNX export.
    """
    quarter = channels // 4
    rows = torch.arange(height, device=device, dtype=dtype)
    cols = torch.arange(width, device=device, dtype=dtype)
    if quarter == 0:
        return torch.zeros(rows.shape[0], cols.shape[0], channels, device=device, dtype=dtype)
    omega = 1.0 / temperature ** (torch.arange(quarter, device=device, dtype=dtype) / quarter)
    ang_r = rows[:, None] * omega[None, :]  # (H, q)
    ang_c = cols[:, None] * omega[None, :]  # (W, q)
    h_n, w_n = ang_r.shape[0], ang_c.shape[0]
    pe_r = torch.cat([ang_r.sin(), ang_r.cos()], dim=-1)[:, None, :].expand(h_n, w_n, 2 * quarter)
    pe_c = torch.cat([ang_c.sin(), ang_c.cos()], dim=-1)[None, :, :].expand(h_n, w_n, 2 * quarter)
    pe = torch.cat([pe_r, pe_c], dim=-1)
    if channels > 4 * quarter:
        pe = F.pad(pe, (0, channels - 4 * quarter))
    return pe


class TransformerBlock(nn.Module):
    """Pre-norm transformer block around a token mixer, on (B, C, H, W) maps.

    ``x = x + PEG(x)`` (optional conditional positional encoding, Chu et al. 2023),
    ``x = x + LS₁·Mixer(LN(x) [+ sincos PE])``, ``x = x + LS₂·MLP(LN(x))``. The mixer maps channels-last
    tokens (B, H, W, C) → (B, H, W, C) and exposes ``.attention`` (B, 1, H, W), which this block re-exposes.

    Initialisation: the PEG depthwise conv is zero-initialised and the residual branches are scaled by
    ``layer_scale`` (LayerScale), so with the default ``layer_scale=1e-3`` the block starts as a
    near-identity (‖out − x‖ ≈ 1e-3·‖x‖) and does not disturb a pretrained encoder it is inserted into.
    ``layer_scale=None`` gives the plain residual block.
    """

    def __init__(self, channels: int, mixer: nn.Module, *, mlp_ratio: float = 4.0, pos: str = "cpe",
                 layer_scale: float | None = 1e-3) -> None:
        super().__init__()
        if pos not in ("cpe", "sincos", "none"):
            raise ValueError(f"pos must be 'cpe', 'sincos' or 'none', got {pos!r}")
        self.pos = pos
        self.peg = nn.Conv2d(channels, channels, 3, padding=1, groups=channels) if pos == "cpe" else None
        if self.peg is not None:
            nn.init.zeros_(self.peg.weight)
            nn.init.zeros_(self.peg.bias)
        self.norm1 = nn.LayerNorm(channels)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = Mlp(channels, mlp_ratio)
        self.ls1 = LayerScale(channels, layer_scale) if layer_scale is not None else nn.Identity()
        self.ls2 = LayerScale(channels, layer_scale) if layer_scale is not None else nn.Identity()

    @property
    def attention(self) -> Tensor | None:
        return getattr(self.mixer, "attention", None)

    def forward(self, x: Tensor) -> Tensor:
        if self.peg is not None:
            x = x + self.peg(x)
        t = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        h = self.norm1(t)
        if self.pos == "sincos":
            h = h + sincos_2d(t.shape[1], t.shape[2], t.shape[3], device=t.device, dtype=t.dtype)
        t = t + self.ls1(self.mixer(h))
        t = t + self.ls2(self.mlp(self.norm2(t)))
        return t.permute(0, 3, 1, 2)

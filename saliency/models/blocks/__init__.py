"""Attention blocks, pluggable by name with one signature.

Every block is built as ``BLOCKS.get(name)(channels, **kwargs)`` and maps (B, C, H, W) → (B, C, H, W)
(shape-preserving), for any H, W >= 1 and batch 1. ``build_block(None, c)`` gives ``nn.Identity()``.
Blocks that expose an attention map store the last one in ``self.attention`` (a tensor, detached) for
visualisation. Registered names: se, eca, cbam, non_local, sagan, mhsa, swin, axial, sk,
residual_attention. The package also provides the non-shape-preserving modules
:class:`SpatialTransformer`, :class:`MultiScaleAttentionFusion` and :class:`AdditiveAttentionPool`.
See docs/blocks.md for references, initialisation and cost of each mechanism.
"""

from __future__ import annotations

from saliency.models.blocks._base import BLOCKS, TransformerBlock, attend, build_block, sincos_2d
from saliency.models.blocks.axial import AxialAttention, AxialBlock
from saliency.models.blocks.cbam import CBAM
from saliency.models.blocks.eca import EfficientChannelAttention, eca_kernel_size
from saliency.models.blocks.fusion import MultiScaleAttentionFusion
from saliency.models.blocks.mhsa import GlobalAttention, MHSABlock
from saliency.models.blocks.non_local import NonLocalBlock
from saliency.models.blocks.pool import AdditiveAttentionPool, AttentionPoolClassifier
from saliency.models.blocks.residual_attention import ResidualAttention
from saliency.models.blocks.sagan import SelfAttention2d
from saliency.models.blocks.se import SqueezeExcitation
from saliency.models.blocks.sk import SelectiveKernel
from saliency.models.blocks.stn import SpatialTransformer, affine_grid, invert_affine
from saliency.models.blocks.swin import SwinBlockPair, WindowAttention

__all__ = [
    "BLOCKS",
    "CBAM",
    "AdditiveAttentionPool",
    "AttentionPoolClassifier",
    "AxialAttention",
    "AxialBlock",
    "EfficientChannelAttention",
    "GlobalAttention",
    "MHSABlock",
    "MultiScaleAttentionFusion",
    "NonLocalBlock",
    "ResidualAttention",
    "SelectiveKernel",
    "SelfAttention2d",
    "SpatialTransformer",
    "SqueezeExcitation",
    "SwinBlockPair",
    "TransformerBlock",
    "WindowAttention",
    "affine_grid",
    "attend",
    "build_block",
    "eca_kernel_size",
    "invert_affine",
    "sincos_2d",
]

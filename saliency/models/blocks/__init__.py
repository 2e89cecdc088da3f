"""Attention blocks, pluggable by name with one signature.

Every block is built as ``BLOCKS.get(name)(channels, **kwargs)`` and maps (B, C, H, W) → (B, C, H, W)
(shape-preserving). ``build_block(None, c)`` gives ``nn.Identity()``. Blocks that expose an attention
map store the last one in ``self.attention`` (a tensor, detached) for visualisation.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from saliency.registry import Registry

BLOCKS: Registry = Registry("attention block")


def build_block(name: str | None, channels: int, **kwargs: Any) -> nn.Module:
    """Build the block registered as ``name`` for ``channels`` channels; ``None``/``"none"`` → identity."""
    if name is None or name == "none":
        return nn.Identity()
    return BLOCKS.get(name)(channels, **kwargs)

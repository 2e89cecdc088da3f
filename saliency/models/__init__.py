"""Saliency networks: encoders, attention blocks, decoders, heads, priors and the model zoo (pure torch).

Contract (team brief §5)::

    build_model(name_or_config, **overrides) -> SaliencyNet
    SaliencyNet.forward(x: (B, 3, H, W) ImageNet-normalised RGB) -> (B, 1, H, W)
        task "fixation": log-density (log-softmax over the H·W pixels of each image)
        task "sod": per-pixel logits
"""

from saliency.models.encoders import ENCODERS, build_encoder, load_encoder_weights
from saliency.models.introspect import attention_maps, count_macs, count_parameters
from saliency.models.zoo import (
    DEFAULT_FIXATION_MODEL,
    DEFAULT_SOD_MODEL,
    MODELS,
    ModelConfig,
    SaliencyNet,
    build_model,
    get_config,
)

__all__ = [
    "DEFAULT_FIXATION_MODEL",
    "DEFAULT_SOD_MODEL",
    "ENCODERS",
    "MODELS",
    "ModelConfig",
    "SaliencyNet",
    "attention_maps",
    "build_encoder",
    "build_model",
    "count_macs",
    "count_parameters",
    "get_config",
    "load_encoder_weights",
]

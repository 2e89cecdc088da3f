"""Image preprocessing for the networks: uint8 RGB (H, W, 3) → ImageNet-normalised float tensor (3, H, W).

Every model in the zoo takes ImageNet-normalised RGB (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225,
on [0, 1]-scaled pixels). Encoders whose weights expect a different scaling convert inside the model
(EfficientNet-Lite0 maps to [-1, 1]), so there is exactly one preprocessing for all models.
"""

from __future__ import annotations

import numpy as np
import torch

from saliency.errors import ConfigError
from saliency.models.encoders import IMAGENET_MEAN, IMAGENET_STD


def normalize_image(img_uint8_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB (or (H, W) grey, replicated) → (3, H, W) float32, ``(x/255 − mean) / std``."""
    img = np.asarray(img_uint8_hwc)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ConfigError(f"normalize_image: expected an (H, W, 3) RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ConfigError(f"normalize_image: expected uint8 pixels, got {img.dtype}")
    x = torch.from_numpy(np.array(img[:, :, :3], copy=True)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def denormalize_image(x: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`normalize_image`: (3, H, W) → (H, W, 3) uint8."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    img = (x.detach().cpu().float() * std + mean).clamp(0, 1).mul(255).round().byte()
    return img.permute(1, 2, 0).numpy()

"""Images in and out of the networks: reading RGB files and the one ImageNet normalisation.

Every model takes ImageNet-normalised RGB (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225, on
[0, 1]-scaled pixels); encoders whose weights expect another scaling convert inside the model
(EfficientNet-Lite maps to [-1, 1]), so there is exactly one preprocessing, used by the datasets, the
evaluation, the reports and ``saliency show``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from saliency.errors import ConfigError, ReaderError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; an unreadable or damaged file is a ReaderError naming it."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise
    except OSError as exc:  # PIL's UnidentifiedImageError and truncated-file errors are OSErrors
        raise ReaderError(f"not a readable image ({exc}); expected a JPEG/PNG/... picture", path=path) from exc


def normalize_image(img_uint8_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB (or (H, W) grey, replicated; an alpha channel is dropped) → (3, H, W) float32
    ``(x/255 − mean) / std``, computed in float32."""
    img = np.asarray(img_uint8_hwc)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ConfigError(f"normalize_image: expected an (H, W, 3) RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ConfigError(f"normalize_image: expected uint8 pixels, got {img.dtype}")
    x = (img[:, :, :3].astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def denormalize_image(x: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`normalize_image`: (3, H, W) → (H, W, 3) uint8."""
    mean = torch.from_numpy(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.from_numpy(IMAGENET_STD).view(3, 1, 1)
    img = (x.detach().cpu().float() * std + mean).clamp(0, 1).mul(255).round().byte()
    return img.permute(1, 2, 0).numpy()

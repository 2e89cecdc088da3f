"""Joint augmentation of image, density map / mask and fixation points (albumentations).

Defaults: horizontal flip (p = 0.5) and mild photometric changes (brightness/contrast, hue/saturation).
Crops, rotations and vertical flips are **off by default** on purpose: free-viewing fixations carry a
strong, roughly image-centred bias (observers start at the screen centre and scenes are composed around
it). A crop or rotation moves the image centre away from the canvas centre while the fixations move with
the content, so the network would be taught that the centre bias sits elsewhere; a vertical flip puts sky
below ground and inverts the upward/downward asymmetry of real fixation distributions. A horizontal flip
keeps both the centre and the vertical layout, so it is safe. They can be turned on for SOD, where the
target is an object mask and there is no observer bias; ``strong`` (SOD) adds a random affine
(zoom 0.75–1.25, shift ≤ 10 %, rotation ≤ 15°, applied identically to the mask), gamma, stronger
brightness/contrast, blur and sensor noise (image only).

Coordinate convention: our fixation coordinates are continuous with pixel j covering x ∈ [j, j+1);
albumentations keypoints treat integer x as the *centre* of pixel x (its horizontal flip is
``x → W − 1 − x``). Points are shifted by −0.5 before and +0.5 after, so a flip maps x → W − x, exactly
the mirror of the flipped array.

Every sample's randomness comes from a seed derived from (run seed, epoch, sample index), so an epoch's
augmentations are identical whatever the number of DataLoader workers and after a resume.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations to apply (see module docstring for why crops/rotations/vflip default off)."""

    hflip: bool = True
    photometric: bool = True
    crops: bool = False
    rotations: bool = False
    vflip: bool = False
    brightness: float = 0.1
    contrast: float = 0.1
    hue_shift: int = 5
    saturation: int = 10
    rotation_deg: float = 10.0
    crop_scale: float = 0.85
    strong: bool = False

    @property
    def any(self) -> bool:
        return self.hflip or self.photometric or self.crops or self.rotations or self.vflip or self.strong


def build_augmentation(cfg: AugmentConfig) -> A.Compose | None:
    """An albumentations pipeline over ``image`` (uint8 HWC), ``density`` (float32 HW) and keypoints."""
    if not cfg.any:
        return None
    ts: list = []
    if cfg.crops:
        ts.append(A.RandomResizedCrop(size=(1, 1), scale=(cfg.crop_scale, 1.0), ratio=(1.0, 1.0), p=0.5))
    if cfg.rotations:
        ts.append(A.Rotate(limit=cfg.rotation_deg, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0,
                           p=0.5))
    if cfg.strong:  # SOD only (moves the image centre): zoom 0.75–1.25, shift ≤ 10 %, rotation ≤ 15°
        ts.append(A.Affine(scale=(0.75, 1.25), translate_percent=(-0.1, 0.1), rotate=(-15, 15),
                           border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=0.7))
    if cfg.hflip:
        ts.append(A.HorizontalFlip(p=0.5))
    if cfg.vflip:
        ts.append(A.VerticalFlip(p=0.5))
    if cfg.photometric:
        ts.append(A.RandomBrightnessContrast(brightness_limit=cfg.brightness, contrast_limit=cfg.contrast,
                                             p=0.5))
        ts.append(A.HueSaturationValue(hue_shift_limit=cfg.hue_shift, sat_shift_limit=cfg.saturation,
                                       val_shift_limit=0, p=0.3))
    if cfg.strong:  # image-only: stronger photometric changes, blur and sensor noise
        ts.append(A.RandomGamma(gamma_limit=(70, 140), p=0.3))
        ts.append(A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=0.3))
        ts.append(A.GaussianBlur(sigma_limit=(0.3, 1.5), p=0.15))
        ts.append(A.GaussNoise(std_range=(0.02, 0.06), p=0.15))
    with warnings.catch_warnings():  # "processor for keypoints, but no transform": photometric only
        warnings.simplefilter("ignore", UserWarning)
        return A.Compose(ts, additional_targets={"density": "mask"}, mask_interpolation=cv2.INTER_LINEAR,
                         keypoint_params=A.KeypointParams(format="xy", remove_invisible=False), seed=0)


def apply_augmentation(aug: A.Compose | None, seed: int, image: np.ndarray, density: np.ndarray,
                       x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``aug`` jointly with the per-sample ``seed``.

    image: (H, W, 3) uint8; density: (H, W) float32 (a probability map or a mask; renormalisation is the
    caller's job); x_px, y_px: (N,) fixation coordinates (pixel corners). Returns the transformed four.
    A crop's size is the input size (the canvas is fixed before augmenting).
    """
    if aug is None:
        return image, density, x_px, y_px
    h, w = image.shape[:2]
    for t in aug.transforms:
        if isinstance(t, A.RandomResizedCrop):
            t.size = (h, w)
    aug.set_random_seed(int(seed) % (2**32))
    kps = np.stack([np.asarray(x_px, np.float64) - 0.5, np.asarray(y_px, np.float64) - 0.5], axis=1) \
        if len(x_px) else np.zeros((0, 2))
    out = aug(image=image, density=density, keypoints=kps)
    k = np.asarray(out["keypoints"], np.float64).reshape(-1, 2)
    x, y = k[:, 0] + 0.5, k[:, 1] + 0.5
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return out["image"], out["density"], x[inside], y[inside]

"""Salient-object masks read in their image's orientation: the one reader used by training, evaluation and the
SOD metrics (no torch; not an eye-tracking format, so not in ``READERS``).

Layout: ``<root>/images/<id>.jpg`` (or .jpeg/.png) and ``<root>/masks/<id>.png`` (boolean or grey PNG).

Orientation. In the shared copy of SOD, 63 of the 300 masks are stored rotated by 90° relative to their
images (the mask is W × H for an H × W image; no EXIF tag explains it). Aligning mask boundaries with image
gradients showed that 61 of them match after a 90° clockwise rotation (``np.rot90(mask, -1)``) and the
other two are ambiguous by content, so the clockwise rotation is applied whenever a mask's shape is the
transpose of its image's. A square image cannot reveal a rotated mask by its shape: such masks are returned
as stored and COUNTED as ambiguous (:class:`MaskOrientation`), so callers report them instead of guessing.
Any other size mismatch is a :class:`SchemaError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from saliency.errors import ConfigError, SchemaError
from saliency.readers.stimuli import image_size

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class MaskOrientation:
    """Counts of how masks were oriented: ``as_stored``, ``rotated`` (transposed shape, turned clockwise),
    ``ambiguous`` (square image: shape cannot tell; returned as stored). ``ambiguous_ids``/``rotated_ids``
    name them."""

    as_stored: int = 0
    rotated: int = 0
    ambiguous: int = 0
    rotated_ids: list[str] = field(default_factory=list)
    ambiguous_ids: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, stimulus: str, how: str) -> None:
        """Count one mask once (re-reading it, e.g. every training epoch, does not count again)."""
        with self._lock:
            if stimulus in self._seen:
                return
            self._seen.add(stimulus)
            if how == "rotated":
                self.rotated += 1
                self.rotated_ids.append(stimulus)
            elif how == "ambiguous":
                self.ambiguous += 1
                self.ambiguous_ids.append(stimulus)
            else:
                self.as_stored += 1

    def to_dict(self) -> dict:
        return {"as_stored": self.as_stored, "rotated": self.rotated, "ambiguous": self.ambiguous,
                "rotated_ids": sorted(self.rotated_ids), "ambiguous_ids": sorted(self.ambiguous_ids)}

    def describe(self) -> str:
        text = f"SOD masks: {self.rotated} rotated back 90° clockwise to match their images"
        if self.ambiguous:
            text += (f"; {self.ambiguous} on square images used as stored (orientation cannot be told from "
                     f"the shape): {', '.join(sorted(self.ambiguous_ids)[:10])}")
        return text


def orient_mask(mask: np.ndarray, image_hw: tuple[int, int], *, name: str = "mask",
                report: MaskOrientation | None = None) -> np.ndarray:
    """``mask`` (H', W') turned to the image's (H, W) orientation (module docstring); counted in ``report``."""
    h, w = int(image_hw[0]), int(image_hw[1])
    if mask.shape[:2] == (h, w):
        how = "ambiguous" if h == w else "as_stored"
    elif mask.shape[:2] == (w, h):
        mask = np.ascontiguousarray(np.rot90(mask, -1))
        how = "rotated"
    else:
        raise SchemaError(f"{name}: mask is {mask.shape[1]}×{mask.shape[0]} px, image is {w}×{h} "
                          "(expected the same size or its transpose)")
    if report is not None:
        report.add(Path(name).stem, how)
    return mask


def read_sod_mask(mask_path: str | Path, image_hw: tuple[int, int],
                  report: MaskOrientation | None = None) -> np.ndarray:
    """(H, W) uint8 mask (0–255; a boolean PNG gives 0/255) in its image's orientation.

    Binarise as the caller's convention says: PySODMetrics ``> 128`` (:mod:`saliency.metrics.sod`),
    training ``> 0``.
    """
    from PIL import Image

    path = Path(mask_path)
    try:
        with Image.open(path) as im:
            m = np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise SchemaError(f"{path}: mask not found") from None
    return orient_mask(m, image_hw, name=str(path), report=report)


class SODMasks:
    """An image/mask folder: ids, image paths, and masks in image orientation with a shared orientation report."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        img_dir, mask_dir = self.root / "images", self.root / "masks"
        if not img_dir.is_dir() or not mask_dir.is_dir():
            raise ConfigError(f"{self.root}: expected images/ and masks/ folders (SOD layout)")
        masks = {p.stem for p in mask_dir.glob("*.png")}
        self.images = {p.stem: p for p in sorted(img_dir.iterdir())
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in masks}
        if not self.images:
            raise ConfigError(f"{self.root}: no image with a matching mask")
        self.orientation = MaskOrientation()

    @property
    def stimuli(self) -> list[str]:
        return sorted(self.images)

    def image_path(self, stimulus: str) -> Path:
        try:
            return self.images[Path(stimulus).stem]
        except KeyError:
            raise SchemaError(f"{self.root}: no image {stimulus!r} with a mask") from None

    def image_size(self, stimulus: str) -> tuple[int, int]:
        return image_size(self.image_path(stimulus))

    def mask(self, stimulus: str) -> np.ndarray:
        """(H, W) uint8 mask in the image's orientation (counted in :attr:`orientation`)."""
        stem = Path(stimulus).stem
        return read_sod_mask(self.root / "masks" / f"{stem}.png", self.image_size(stem), self.orientation)

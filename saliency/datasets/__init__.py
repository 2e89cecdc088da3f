"""Datasets for training: streaming from shards, aspect-preserving resizing, joint augmentation, splits."""

from saliency.datasets.fixation import (
    FixationDataset,
    SampleSpec,
    SODDataset,
    SODFolder,
    collate_saliency,
)
from saliency.datasets.geometry import Letterbox
from saliency.datasets.images import denormalize_image, normalize_image, read_rgb
from saliency.datasets.splits import make_splits, split_of, stimulus_unit, write_splits
from saliency.datasets.transforms import AugmentConfig, apply_augmentation, build_augmentation

__all__ = [
    "AugmentConfig", "FixationDataset", "Letterbox", "SODDataset", "SODFolder", "SampleSpec",
    "apply_augmentation", "build_augmentation", "collate_saliency", "denormalize_image", "make_splits",
    "normalize_image", "read_rgb", "split_of", "stimulus_unit", "write_splits",
]

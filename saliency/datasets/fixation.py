"""Torch datasets that stream stimuli from the shards (fixation prediction) or an image/mask folder (SOD).

Nothing is loaded up front: each ``__getitem__`` reads one stimulus (image from disk, density and
fixations from the shard set). The shard set is opened lazily, once per process, so DataLoader worker
processes each open their own file handles (the dataset pickles as the shard *path*).

A sample is a dict:

- ``image``: (3, H, W) float32, ImageNet-normalised RGB on the letterbox canvas
- ``density``: (1, H, W) float32 probability map (sums to 1; 0 on padding)    [fixation]
- ``fixation_map``: (1, H, W) float32 fixation counts at canvas pixels          [fixation]
- ``points``: (N, 2) float32 canvas (x, y) of the fixations (padded to the batch max with NaN by
  :func:`collate_saliency`; ``n_points`` gives N)                               [fixation]
- ``mask``: (1, H, W) float32 in [0, 1]                                          [sod]
- ``index`` (int), ``stimulus`` (str), ``orig_size`` (height, width of the stimulus)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from saliency.datasets.geometry import Letterbox
from saliency.datasets.images import normalize_image, read_rgb
from saliency.datasets.transforms import AugmentConfig, apply_augmentation, build_augmentation
from saliency.errors import ConfigError, SchemaError
from saliency.maps.fusion import fixation_count_map
from saliency.readers.sod import SODMasks


class GroundTruthLike(Protocol):
    stimulus: str
    image_path: Any
    height: int
    width: int
    density: np.ndarray
    fixations: Any  # DataFrame with columns x, y (stimulus px)


class SourceLike(Protocol):
    """What the dataset needs from a shard set: ``stimuli`` and ``load(stimulus)``."""

    @property
    def stimuli(self) -> list[str]: ...

    def load(self, stimulus: str) -> GroundTruthLike: ...


def open_source(source: str | Path | SourceLike) -> SourceLike:
    if isinstance(source, (str, Path)):
        from saliency.shards import open_shards

        return open_shards(Path(source))
    return source


@dataclass(frozen=True)
class SampleSpec:
    """Canvas size (height, width) in pixels and the augmentation (None at evaluation)."""

    height: int
    width: int
    augment: AugmentConfig | None = None


class _Lazy:
    """Base of both datasets: the stimuli, sample spec, per-sample seeds, and the source opened once per
    process (DataLoader workers re-open it after unpickling)."""

    _source_arg: Any
    _source: Any
    _pid: int

    def _init(self, source_arg: Any, source: Any, stimuli: Sequence[str], spec: SampleSpec, seed: int) -> None:
        self._source_arg = source_arg
        self._source = source
        self._pid = os.getpid()
        self.stimuli = list(stimuli)
        self.spec = spec
        self.seed = int(seed)
        self.epoch = 0
        self._aug = build_augmentation(spec.augment) if spec.augment is not None else None

    def __len__(self) -> int:
        return len(self.stimuli)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def sample_seed(self, index: int) -> int:
        return (self.seed * 1_000_003 + self.epoch * 10_007 + index) % (2**32)

    def letterbox(self, height: int, width: int) -> Letterbox:
        return Letterbox.fit(height, width, self.spec.height, self.spec.width)

    def _src(self) -> Any:
        if self._source is None or self._pid != os.getpid():
            self._source = open_source(self._source_arg)
            self._pid = os.getpid()
        return self._source

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if isinstance(self._source_arg, (str, Path)):
            state["_source"] = None
        state["_aug"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._aug = build_augmentation(self.spec.augment) if self.spec.augment is not None else None


class FixationDataset(_Lazy, Dataset):
    """Streams (image, density, fixations) of ``stimuli`` from a shard set, letterboxed to the canvas.

    source: a shard directory (opened lazily per process with ``saliency.shards.open_shards``) or an
    object with ``stimuli`` and ``load(stimulus)`` (e.g. a ShardSet or an in-memory test source).
    seed: run seed; with :meth:`set_epoch` it fixes each sample's augmentation (seed, epoch, index).
    """

    def __init__(self, source: str | Path | SourceLike, stimuli: Sequence[str], spec: SampleSpec,
                 seed: int = 0) -> None:
        if not stimuli:
            raise ConfigError("the dataset split is empty; check data.split_fractions and data.limit")
        self._init(source, None if isinstance(source, (str, Path)) else source, stimuli, spec, seed)

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.stimuli[index]
        gt = self._src().load(name)
        image = getattr(gt, "image", None)
        image = read_rgb(gt.image_path) if image is None else np.asarray(image)
        if image.shape[:2] != (gt.height, gt.width):
            raise SchemaError(f"{gt.image_path}: image is {image.shape[1]}×{image.shape[0]} px but the shard "
                              f"records {gt.width}×{gt.height}")
        lb = self.letterbox(gt.height, gt.width)
        img = lb.image_to_canvas(image)
        dens = lb.density_to_canvas(np.asarray(gt.density, np.float32))
        fx = np.asarray(gt.fixations["x"], np.float64)
        fy = np.asarray(gt.fixations["y"], np.float64)
        x, y = lb.points_to_canvas(fx, fy)
        img, dens, x, y = apply_augmentation(self._aug, self.sample_seed(index), img, dens, x, y)
        total = float(dens.sum(dtype=np.float64))
        dens = dens / total if total > 0 else np.full_like(dens, 1.0 / dens.size)
        fmap = fixation_count_map(x, y, self.spec.height, self.spec.width, drop_outside=True).astype(np.float32)
        return {
            "image": normalize_image(img),
            "density": torch.from_numpy(np.ascontiguousarray(dens, np.float32))[None],
            "fixation_map": torch.from_numpy(fmap)[None],
            "points": torch.from_numpy(np.stack([x, y], 1).astype(np.float32).reshape(-1, 2)),
            "index": index,
            "stimulus": name,
            "orig_size": (int(gt.height), int(gt.width)),
        }


def collate_saliency(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; pad ``points`` to (B, N_max, 2) with NaN and add ``n_points`` (B,)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        vals = [s[key] for s in samples]
        if key == "points":
            n = max((v.shape[0] for v in vals), default=0)
            pts = torch.full((len(vals), n, 2), float("nan"))
            for b, v in enumerate(vals):
                pts[b, : v.shape[0]] = v
            out["points"] = pts
            out["n_points"] = torch.tensor([v.shape[0] for v in vals], dtype=torch.long)
        elif isinstance(vals[0], torch.Tensor):
            out[key] = torch.stack(vals)
        elif isinstance(vals[0], int):
            out[key] = torch.tensor(vals, dtype=torch.long)
        else:
            out[key] = vals
    return out


class SODFolder(SODMasks):
    """An image/mask folder (``images/<id>.jpg``, ``masks/<id>.png`` boolean) as a source of SOD samples.

    Masks are read by :func:`saliency.readers.sod.read_sod_mask`, the reader evaluation and the SOD metrics
    use too: a mask stored rotated by 90° (63 of the 300 in the shared SOD copy) is turned back clockwise,
    masks of square images (orientation not decidable from the shape) are counted in :attr:`orientation`.
    """

    def mask(self, stimulus: str) -> np.ndarray:
        """(H, W) bool mask (stored value > 0) in the image's orientation."""
        return super().mask(stimulus) > 0


class SODDataset(_Lazy, Dataset):
    """Streams (image, mask) pairs of an image/mask folder, letterboxed to the canvas."""

    def __init__(self, root: str | Path | SODFolder, stimuli: Sequence[str], spec: SampleSpec,
                 seed: int = 0) -> None:
        if not stimuli:
            raise ConfigError("the SOD split is empty")
        folder = root if isinstance(root, SODFolder) else None
        self._init(folder if folder is not None else Path(root), folder, stimuli, spec, seed)

    def _src(self) -> SODFolder:
        if self._source is None or self._pid != os.getpid():
            self._source = SODFolder(self._source_arg)
            self._pid = os.getpid()
        return self._source

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.stimuli[index]
        src = self._src()
        image = read_rgb(src.image_path(name))
        mask = src.mask(name).astype(np.float32)
        if mask.shape != image.shape[:2]:
            raise SchemaError(f"{name}: mask {mask.shape} and image {image.shape[:2]} differ in size")
        h, w = mask.shape
        lb = self.letterbox(h, w)
        img, m = lb.image_to_canvas(image), lb.mask_to_canvas(mask)
        empty = np.zeros(0)
        img, m, _, _ = apply_augmentation(self._aug, self.sample_seed(index), img, m, empty, empty)
        return {
            "image": normalize_image(img),
            "mask": torch.from_numpy(np.ascontiguousarray(np.clip(m, 0, 1), np.float32))[None],
            "index": index,
            "stimulus": name,
            "orig_size": (h, w),
        }

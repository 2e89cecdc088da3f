"""From a :class:`RunConfig` to splits, datasets and loaders (deterministic shuffling and seeding)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from saliency.datasets import (
    AugmentConfig,
    FixationDataset,
    SampleSpec,
    SODDataset,
    SODFolder,
    collate_saliency,
    make_splits,
)
from saliency.datasets.fixation import open_source
from saliency.training.config import RunConfig
from saliency.training.distributed import DistInfo


@dataclass
class RunData:
    """The splits and the datasets of a run; ``source`` is the shard set / SOD folder (or its path)."""

    splits: dict[str, list[str]]
    train: Dataset
    val: Dataset
    test: Dataset
    source: Any


def resolve_path(path: str) -> Path:
    """Paths in recipes are relative to the working directory; ``$SALIENCY_SHARED`` / ``../shared``
    prefixes resolve like the library defaults."""
    import os

    p = Path(os.path.expandvars(path)).expanduser()
    return p


def build_run_data(cfg: RunConfig, source: Any = None) -> RunData:
    """Split the stimuli and build train (augmented) / val / test (not augmented) datasets.

    ``source`` overrides where the data come from (an object with ``stimuli`` and ``load``: tests).
    """
    d = cfg.data
    if d.task == "fixation":
        arg = source if source is not None else resolve_path(d.shards)
        src = open_source(arg)
        names = src.stimuli
    else:
        arg = source if source is not None else resolve_path(d.sod_root)
        src = arg if isinstance(arg, SODFolder) else SODFolder(arg)
        names = src.stimuli
    splits = make_splits(names, d.split_fractions, d.split_salt)
    for key, limit in (("train", d.limit_train), ("val", d.limit_val), ("test", d.limit_test)):
        if limit > 0:
            splits[key] = splits[key][:limit]
    aug = AugmentConfig(hflip=d.hflip, photometric=d.photometric, crops=d.crops, rotations=d.rotations,
                        vflip=d.vflip, strong=d.strong)
    train_spec = SampleSpec(d.height, d.width, aug)
    eval_spec = SampleSpec(d.height, d.width, None)
    cls = FixationDataset if d.task == "fixation" else SODDataset
    # Datasets get the path (workers re-open it lazily) or the in-memory source object itself.
    ds_arg = arg
    return RunData(splits=splits,
                   train=cls(ds_arg, splits["train"], train_spec, seed=cfg.seed),
                   val=cls(ds_arg, splits["val"] or splits["train"][:1], eval_spec, seed=cfg.seed),
                   test=cls(ds_arg, splits["test"] or splits["val"], eval_spec, seed=cfg.seed),
                   source=src)


def scale_batch(batch: dict[str, Any], scales: tuple[float, ...], seed: int, step: int) -> dict[str, Any]:
    """Multi-scale training: resize ``image`` and ``mask`` (bilinear) by a factor drawn from ``scales``
    with a generator seeded by (seed, step); sizes are rounded to multiples of 32 (at least 32)."""
    if not scales:
        return batch
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    f = scales[int(torch.randint(len(scales), (1,), generator=g))]
    h, w = batch["image"].shape[-2:]
    size = (max(32, round(h * f / 32) * 32), max(32, round(w * f / 32) * 32))
    if size == (h, w):
        return batch
    out = dict(batch)
    for k in ("image", "mask"):
        if k in out:
            out[k] = torch.nn.functional.interpolate(out[k], size=size, mode="bilinear", align_corners=False)
    return out


def seed_worker(worker_id: int) -> None:
    """Per-worker seeding: numpy and random from the worker's torch seed (base seed + worker id)."""
    s = torch.initial_seed() % (2**32)
    np.random.seed(s)  # noqa: NPY002 (seed the legacy global RNG libraries may draw from)
    random.seed(s)


def make_loader(ds: Dataset, *, batch_size: int, shuffle: bool, seed: int, epoch: int, num_workers: int,
                dist_info: DistInfo, drop_last: bool = False) -> DataLoader:
    """A loader whose order and worker seeds depend only on (seed, epoch) (and the rank under DDP)."""
    if hasattr(ds, "set_epoch"):
        ds.set_epoch(epoch)
    g = torch.Generator()
    g.manual_seed(seed * 1000 + epoch)
    sampler = None
    if dist_info.enabled:
        sampler = DistributedSampler(ds, num_replicas=dist_info.world_size, rank=dist_info.rank,
                                     shuffle=shuffle, seed=seed, drop_last=drop_last)
        sampler.set_epoch(epoch)
        shuffle = False
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, sampler=sampler, num_workers=num_workers,
                      collate_fn=collate_saliency, worker_init_fn=seed_worker, generator=g,
                      drop_last=drop_last, persistent_workers=False, pin_memory=False)

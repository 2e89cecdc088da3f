"""Benchmark: the training data loader alone vs a training step (does the data pipeline keep up?).

Loader: :class:`saliency.datasets.FixationDataset` over a shard set (shard decode + map checksum, JPEG decode,
letterbox to 288×384, augmentation as in training, fixation map) through the training DataLoader
(``saliency.training.data.make_loader``) with ``--workers`` processes; images/s over ``--n-images``
samples after one warm-up batch. Shard decode alone (``ShardSet.density``) is printed too.
Step: one CPU training step of the default model (``benchmarks/bench_train.py``'s measure: forward,
objective, backward, AdamW) at the same size and batch, images/s. The loader keeps up when its rate is ≥ the
step's; a GPU step is roughly 20–50× faster than this CPU one, so the printed ratio says how many loader
processes a GPU would need.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_loader.py --shards outputs/osie/shards [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from bench_train import measure

    from saliency.datasets.fixation import FixationDataset, SampleSpec
    from saliency.datasets.transforms import AugmentConfig
    from saliency.models import DEFAULT_FIXATION_MODEL, build_model
    from saliency.shards import open_shards
    from saliency.training.config import RunConfig
    from saliency.training.data import make_loader
    from saliency.training.distributed import DistInfo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--n-images", type=int, default=96)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f} (shared machine)")

    ss = open_shards(a.shards)
    names = ss.stimuli[: a.n_images]
    t0 = time.perf_counter()
    for s in names:
        ss.density(s)
    decode = len(names) / (time.perf_counter() - t0)

    d = RunConfig().data                      # the default training augmentation
    aug = AugmentConfig(hflip=d.hflip, photometric=d.photometric, crops=d.crops, rotations=d.rotations,
                        vflip=d.vflip)
    ds = FixationDataset(str(a.shards), names, SampleSpec(288, 384, aug), seed=0)
    loader = make_loader(ds, batch_size=a.batch, shuffle=True, seed=0, epoch=0, num_workers=a.workers,
                         dist_info=DistInfo())
    it = iter(loader)
    next(it)                                  # worker start-up and first batch excluded
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += batch["image"].shape[0]
    loader_rate = n / (time.perf_counter() - t0)

    step_s = measure(lambda: build_model(DEFAULT_FIXATION_MODEL, pretrained=False), device=torch.device("cpu"),
                     batch=a.batch, h=288, w=384, steps=a.steps, warmup=1)
    step_rate = a.batch / step_s
    print(f"shard decode (ShardSet.density, verified)      : {decode:7.1f} maps/s")
    print(f"loader alone ({a.workers} workers, batch {a.batch}, 288×384)   : {loader_rate:7.1f} images/s")
    print(f"training step ({DEFAULT_FIXATION_MODEL}, CPU, 1 thread)      : {step_rate:7.1f} images/s")
    print(f"loader / step = {loader_rate / step_rate:.1f}× ({'keeps up' if loader_rate >= step_rate else 'BEHIND'} "
          f"on the CPU; a GPU step ~20–50× faster needs {max(1.0, 20 * step_rate / loader_rate):.0f}–"
          f"{max(1.0, 50 * step_rate / loader_rate):.0f}× this loader rate: more workers)")


if __name__ == "__main__":
    main()

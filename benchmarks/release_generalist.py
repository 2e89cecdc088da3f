"""Copy a trained readout run's model into saliency/released/<name>/ with the shipped-weights subset check.

    python benchmarks/release_generalist.py runs/generalist_cpu/model generalist

The subsets are the first 8 test-split images (sorted names) of OSIE and MIT1003 (outputs/<ds>/shards, the
runs' hash splits); their NSS with the float16 weights as shipped goes into spec.json and card.md and is
re-checked by tests/models/test_released_generalist.py.
"""

from __future__ import annotations

import sys

import torch

from saliency.datasets.splits import make_splits
from saliency.models.released import released_root
from saliency.shards import open_shards
from saliency.training.generalist import release


def main(model_dir: str, name: str) -> None:
    torch.set_num_threads(1)
    subsets = {}
    for ds in ("osie", "mit1003"):
        sh = open_shards(f"outputs/{ds}/shards")
        subsets[f"{ds}_test"] = (sh, make_splits(sh.stimuli)["test"][:8])
    out = release(model_dir, name, released_root(), subsets)
    print(out)


if __name__ == "__main__":
    main(*sys.argv[1:3])

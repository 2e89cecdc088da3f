"""Score the released generalist as shipped (unseen-dataset parameters, features from the images) without
and with horizontal-flip TTA on the OSIE and MIT1003 test splits (outputs/<ds>/shards, 0.8/0.1/0.1 hash
splits). Writes outputs/tta.json and prints the main metrics.

    python benchmarks/generalist_tta.py
"""

from __future__ import annotations

import json

import torch

from saliency.datasets import read_rgb
from saliency.datasets.splits import make_splits
from saliency.models.readout import LogMeanExpEnsemble
from saliency.models.released import load_released
from saliency.shards import open_shards
from saliency.training.evaluation import predict_array
from saliency.training.generalist import SCORE_METRICS
from saliency.training.readout_fit import score


def main() -> None:
    torch.set_num_threads(1)
    model = load_released("generalist")
    out = {}
    for ds in ("osie", "mit1003"):
        sh = open_shards(f"outputs/{ds}/shards")
        test = make_splits(sh.stimuli)["test"]
        for label, m in (("no TTA", model), ("flip TTA", LogMeanExpEnsemble([model], hflip=True))):
            preds = {s: predict_array(m, read_rgb(sh.image_path(s)), model.canvas, torch.device("cpu"), "fixation")
                     for s in test}
            row = out[f"{ds} test, {label}"] = score(preds, sh, test, SCORE_METRICS)
            print(ds, label, {k: round(row[k], 4) for k in ("auc_judd", "nss", "cc", "kl", "ig")}, flush=True)
    with open("outputs/tta.json", "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()

"""Score the released generalist as shipped (unseen-dataset parameters, float16 weights, features computed
from the images) without and with horizontal-flip TTA on the OSIE and MIT1003 test splits
(outputs/<ds>/shards, 0.8/0.1/0.1 hash splits), against the centre-bias and gold-standard NSS of the card's
own scores; prints the main metrics, writes outputs/tta.json and, with ``--card``, stores the rows in the
released model's spec as ``scores_as_shipped`` and rewrites its card.

    python benchmarks/generalist_tta.py [--card]
"""

from __future__ import annotations

import argparse
import json

import torch

from saliency.datasets import read_rgb
from saliency.datasets.splits import make_splits
from saliency.models.readout import LogMeanExpEnsemble
from saliency.models.released import load_released, released_dir, released_spec
from saliency.shards import open_shards
from saliency.training.evaluation import predict_array
from saliency.training.generalist import SCORE_METRICS, model_card
from saliency.training.readout_fit import score


def variants(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The model without TTA and with flip TTA (whichever of the two it ships as)."""
    members = list(model.members) if isinstance(model, LogMeanExpEnsemble) else [model]
    return {"no TTA": LogMeanExpEnsemble(members, hflip=False), "flip TTA": LogMeanExpEnsemble(members, hflip=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--card", action="store_true", help="store the rows in the released spec and card")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_released("generalist")
    spec = released_spec("generalist")
    out = {}
    for ds in ("osie", "mit1003"):
        sh = open_shards(f"outputs/{ds}/shards")
        test = make_splits(sh.stimuli)["test"]
        ref = spec["scores"][f"{ds} test"]
        for label, m in variants(model).items():
            preds = {s: predict_array(m, read_rgb(sh.image_path(s)), model.canvas, torch.device("cpu"), "fixation")
                     for s in test}
            row = score(preds, sh, test, SCORE_METRICS)
            row.update(n_images=int(row["n_images"]), centre_nss=ref["centre_nss"], gold_nss=ref["gold_nss"],
                       gap_closed=(row["nss"] - ref["centre_nss"]) / (ref["gold_nss"] - ref["centre_nss"]))
            out[f"{ds} test, {label}"] = row
            print(ds, label, {k: round(row[k], 4) for k in ("auc_judd", "nss", "cc", "kl", "ig", "gap_closed")},
                  flush=True)
    with open("outputs/tta.json", "w") as fh:
        json.dump(out, fh, indent=1)
    if a.card:
        spec["scores_as_shipped"] = out
        root = released_dir("generalist")
        (root / "spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")  # as save_released
        (root / "card.md").write_text(model_card(spec))


if __name__ == "__main__":
    main()

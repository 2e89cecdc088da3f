"""Few-shot adaptation benchmark (issue 11 §7): a readout model (e.g. trained on OSIE only) adapted with
``saliency adapt``'s fitting on N images of another dataset and scored on the other images, for several
pseudo-random N-image draws (draw 0 = the CLI's draw: the first N in split-hash order; draw k = the hash order
salted with ``draw{k}``), beside the unadapted model (unseen-dataset row) and the **oracle ceiling** (the same
per-dataset parameters fitted on *all* images of the dataset, scored on draw 0's other images).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/generalist_adapt.py runs/lodo_osie/model \
        --shards outputs/mit1003/shards --draws 3 --methods default --oracle --out outputs/adapt/lodo_osie.json

NSS in the pysaliency convention on the images' own size; gap = (NSS − centre) / (gold − centre) with the
centre-bias Gaussian fitted to the draw's adaptation images and the leave-one-observer-out gold standard on the
scored images (``saliency.training.generalist.baseline_nss``, cached under ``--cache``). Features come from the
feature cache (computed once). Methods are the presets of :data:`saliency.training.readout_fit.ADAPT_METHODS`
(or ``name:key=value,...`` overrides of the default, e.g. ``default:prior=0``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from saliency.models.readout import readout_members
from saliency.models.released import load_released
from saliency.training.generalist import adaptation_split, baseline_nss, gap_row, load_readout_data
from saliency.training.readout_fit import ADAPT_METHODS, adapt_readout, predict_cached, score


def parse_method(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    kw = dict(ADAPT_METHODS[name])
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        kw[k] = type(kw[k])(v) if k in kw and not isinstance(kw[k], bool) else (v == "1" if k in kw else float(v))
    return text, kw


def scored(model_nets, d, rest, canvas, base) -> dict:
    preds = [predict_cached(n, d, rest, canvas, None) for n in model_nets]
    mean = {s: sum(p[s] for p in preds) / len(preds) for s in rest}
    return gap_row(score(mean, d.shards, rest, ["nss"]), base, rest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--shards", required=True)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--methods", default="default", help="comma-free list separated by ';'")
    ap.add_argument("--oracle", action="store_true", help="also fit the first method on all images")
    ap.add_argument("--no-base", action="store_true", help="skip the unadapted rows")
    ap.add_argument("--cache", default="outputs/features")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_released(a.model)
    nets = readout_members(model)
    canvas = tuple(model.canvas)
    d = load_readout_data(a.shards, nets[0], canvas, a.cache)
    methods = [parse_method(m) for m in a.methods.split(";")]
    draws = [adaptation_split(d.shards.stimuli, a.images, salt="" if k == 0 else f"draw{k}") for k in range(a.draws)]
    out_path = Path(a.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = json.loads(out_path.read_text()) if out_path.is_file() else []

    def emit(row: dict) -> None:
        rows.append(row)
        print(f"{row['variant']:40s} draw {row['draw']}: NSS {row['nss']:.4f} gap {100 * row['gap_closed']:.1f} % "
              f"({row.get('seconds', 0):.0f} s)", flush=True)
        out_path.write_text(json.dumps(rows, indent=1))

    oracles = {}
    if a.oracle:
        for label, kw in methods[:1]:  # the ceiling of the first method's parameter set
            t0 = time.perf_counter()
            oracles[label] = [adapt_readout(n, d, canvas, stimuli=list(d.shards.stimuli), **kw) for n in nets]
            oracles[label + " secs"] = time.perf_counter() - t0
    for k, (fit_on, rest) in enumerate(draws):
        base = baseline_nss(d.shards, rest, a.cache)
        if not a.no_base:
            emit({"variant": "unadapted", "draw": k, **scored(nets, d, rest, canvas, base)})
        for label, kw in methods:
            t0 = time.perf_counter()
            adapted = [adapt_readout(n, d, canvas, stimuli=fit_on, **kw) for n in nets]
            secs = time.perf_counter() - t0
            emit({"variant": label, "draw": k, "seconds": secs, **scored(adapted, d, rest, canvas, base),
                  "params": adapted[0].readable_params(None)})
            if label in oracles and k == 0:  # the ceiling barely depends on which 50 images are left out
                emit({"variant": f"oracle {label}", "draw": k, "seconds": oracles[label + " secs"],
                      **scored(oracles[label], d, rest, canvas, base)})
    for label in ["unadapted"] + [m for m, _ in methods] + [f"oracle {m}" for m, _ in methods]:
        g = [r["gap_closed"] for r in rows if r["variant"] == label and r["draw"] < a.draws]
        if g:
            print(f"{label:40s} mean gap over {len(g)} draws: {100 * sum(g) / len(g):.1f} %")


if __name__ == "__main__":
    main()

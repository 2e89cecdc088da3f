"""Ablation of the released generalist's ingredients on cached frozen features (issue 11).

Every row trains the readout of ``pipelines/configs/generalist_cpu.toml`` (OSIE + MIT1003 train splits, each
dataset its own parameter row) with one ingredient changed, and scores NSS on each dataset's test split with
its own row, plus the NSS gap closed, (NSS − centre) / (gold − centre), from the cached baselines.

Rows (``--rows``, in this order by default):

* ``released``: the recipe as released (Lite0, fitted + jointly trained centre-bias input, log-likelihood).
* ``no_cb``: no centre-bias input (its weight w fixed at 0).
* ``generic_cb``: a generic Gaussian centre bias (μ = 0.5, σ = 0.25 canvas, ε = 0.05) fixed, neither fitted
  nor trained (w trained). A *uniform* centre bias is the same model as ``no_cb`` (w · log c is constant).
* ``lite2`` / ``lite2_lite0``: other frozen encoders (features read from the cached Lite2+Lite0 entry).
* ``kl_cc_nss``: objective KL − CC − NSS against the blurred empirical fixation density on the readout grid
  (σ = 1 cell) instead of the fixation log-likelihood.
* ``seed1``, ``seed2`` → ``ensemble3``: the recipe with seeds 1 and 2; the 3-seed ensemble averages the
  three members' densities (= log-mean-exp).

* ``flip_tta``: the recipe (seed 0) scored with horizontal-flip TTA: the mirrored images' features are
  computed from the test images here (they are not cached), the two densities averaged in log space.

Results go to ``--out`` (JSON, one entry per finished row; re-running skips
finished rows) and a Markdown table beside it (``.md``).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/generalist_ablation.py \\
        --features /work/wt-generalist/outputs/features --epochs 6 --out outputs/ablation/generalist.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from saliency.models.readout import ReadoutNet, gaussian_blur
from saliency.training import load_config, readout_fit
from saliency.training.generalist import baseline_nss, gap_row, load_readout_data
from saliency.training.readout_fit import fit_readout, init_centre_bias, predict_cached, score

ROWS = ("released", "no_cb", "lite2", "lite2_lite0", "generic_cb", "kl_cc_nss", "seed1", "seed2", "flip_tta")
LABELS = {"released": "released recipe (Lite0, fitted centre-bias input, log-likelihood)",
          "no_cb": "no centre-bias input (w = 0)",
          "generic_cb": "generic fixed Gaussian centre bias (not fitted)",
          "lite2": "encoder Lite2", "lite2_lite0": "encoders Lite2 + Lite0",
          "kl_cc_nss": "objective KL − CC − NSS", "ensemble3": "3-seed ensemble (seeds 0, 1, 2)",
          "flip_tta": "released recipe + horizontal-flip TTA (log-mean-exp)"}
LITE0, BOTH = ("effnet_lite0",), ("effnet_lite2", "effnet_lite0")


def saliency_objective(logp: torch.Tensor, fix: list[torch.Tensor]) -> torch.Tensor:
    """−(KL − CC − NSS) per image, averaged (returned as a 'log-likelihood' to maximise, for fit_readout):
    q = the fixation counts on the grid blurred by σ = 1 cell, normalised; p = exp(logp)."""
    B, _, h, w = logp.shape
    counts = torch.zeros(B, h * w)
    for i, f in enumerate(fix):
        counts[i].index_add_(0, f, torch.ones(len(f)))
    q = gaussian_blur(counts.view(B, 1, h, w), torch.tensor(1.0)).flatten(1).clamp_min(0)
    q = q / q.sum(1, keepdim=True).clamp_min(1e-12)
    lp = logp.flatten(1)
    p = lp.exp()
    kl = (q * (torch.log(q + 1e-12) - lp)).sum(1)
    pc, qc = p - p.mean(1, keepdim=True), q - q.mean(1, keepdim=True)
    cc = (pc * qc).sum(1) / (pc.norm(dim=1) * qc.norm(dim=1) + 1e-12)
    z = pc / (p.std(1, keepdim=True) + 1e-12)
    nss = torch.stack([z[i, f].mean() if len(f) else z.new_zeros(()) for i, f in enumerate(fix)])
    return (-kl + cc + nss).mean()


def freeze_columns(net: ReadoutNet, cols: list[int]) -> None:
    """Zero the gradient of the given per-dataset parameter columns (Adam then leaves them unchanged)."""
    mask = torch.ones_like(net.dataset_params)
    mask[:, cols] = 0
    net.dataset_params.register_hook(lambda g: g * mask)


def train_row(row: str, data: dict, canvas: tuple[int, int], cfg, epochs: int, probe: ReadoutNet) -> ReadoutNet:
    seed = {"seed1": 1, "seed2": 2}.get(row, 0)
    torch.manual_seed(seed)
    net = ReadoutNet.from_config(probe.config | {"datasets": list(data)}, pretrained=False)
    init_centre_bias(net, data, canvas)
    if row == "no_cb":
        with torch.no_grad():
            net.dataset_params[:, 5] = 0.0
        freeze_columns(net, [5])
    if row == "generic_cb":
        with torch.no_grad():
            net.dataset_params[:, :5] = torch.tensor([0.5, 0.5, math.log(0.25), math.log(0.25),
                                                      math.log(0.05 / 0.95)])
        freeze_columns(net, [0, 1, 2, 3, 4])
    original = readout_fit.log_likelihood
    if row == "kl_cc_nss":
        readout_fit.log_likelihood = saliency_objective
    try:
        fit_readout(net, data, canvas, epochs=epochs, batch_size=cfg.train.batch_size, lr=cfg.optim.lr,
                    seed=seed, weight_decay=cfg.optim.weight_decay)
    finally:
        readout_fit.log_likelihood = original
    return net


@torch.no_grad()
def predict_flip_tta(net: ReadoutNet, probe: ReadoutNet, d: readout_fit.ReadoutData, stimuli: list[str],
                     canvas: tuple[int, int]) -> dict[str, np.ndarray]:
    """Flip TTA: log-mean-exp of the density from the cached features and the mirrored density of the
    mirrored canvas (its features computed here from the image by ``probe``'s frozen encoders)."""
    from saliency.datasets import Letterbox, normalize_image, read_rgb

    man = d.shards.manifest.set_index("stimulus")
    out = {}
    for s in stimuli:
        lb = Letterbox.fit(int(man.loc[s, "height"]), int(man.loc[s, "width"]), *canvas)
        x = normalize_image(lb.image_to_canvas(read_rgb(d.shards.image_path(s))))[None]
        plain = net.head([f[None].float() for f in d.features[s]], canvas, d.name)
        mirrored = net.head(probe.features(x.flip(-1)), canvas, d.name).flip(-1)
        lp = (torch.logaddexp(plain, mirrored) - math.log(2))[0, 0].numpy()
        out[s] = np.exp(lb.log_density_to_stimulus(lp)).astype(np.float32)
    return out


def slice_features(data: dict, keep: slice) -> dict:
    """The same datasets with only the feature maps ``keep`` (e.g. Lite2's three depths of Lite2+Lite0)."""
    out = {}
    for name, d in data.items():
        out[name] = readout_fit.ReadoutData(d.name, d.shards, {s: f[keep] for s, f in d.features.items()},
                                            d.fixations, d.splits)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="pipelines/configs/generalist_cpu.toml")
    ap.add_argument("--features", default="outputs/features", help="feature cache (data.feature_cache)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--out", default="outputs/ablation/generalist.json")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(Path(a.config), [f'data.feature_cache="{a.features}"'])
    canvas = (cfg.data.height, cfg.data.width)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.is_file() else {}
    loaded: dict = {}
    probes: dict = {}

    def get(encs: tuple[str, ...]) -> tuple[dict, ReadoutNet]:
        if encs not in loaded:
            loaded.clear()
            probe = probes.setdefault(encs, ReadoutNet(encoders=encs, depth_strides=[8, 16, 32]))
            loaded[encs] = {}
            for ref in cfg.data.datasets:
                d = load_readout_data(ref, probe, canvas, a.features, cfg.data.split_fractions, cfg.data.split_salt)
                loaded[encs][d.name] = d
        return loaded[encs], probes[encs]

    for row in a.rows.split(","):
        if row in results:
            continue
        t0 = time.perf_counter()
        if row in ("lite2", "lite2_lite0"):
            data, _ = get(BOTH)
            if row == "lite2":
                data = slice_features(data, slice(0, 3))
            probe = ReadoutNet(encoders=BOTH[:1] if row == "lite2" else BOTH, pretrained=False)
        else:
            data, probe = get(LITE0)
        net = train_row(row, data, canvas, cfg, a.epochs, probe)
        entry = {"label": LABELS.get(row, f"released recipe, seed {row[-1]}"), "epochs": a.epochs,
                 "train_seconds": round(time.perf_counter() - t0, 1)}
        for name, d in data.items():
            test = d.splits["test"]
            preds = (predict_flip_tta(net, probe, d, test, canvas) if row == "flip_tta"
                     else predict_cached(net, d, test, canvas, name))
            np.savez_compressed(out.parent / f"{row}_{name}.npz", **{s: preds[s] for s in test})
            m = score(preds, d.shards, test, ("nss",))
            entry[name] = gap_row(m, baseline_nss(d.shards, test, a.features), test)
        results[row] = entry
        out.write_text(json.dumps(results, indent=1))
        print(row, {k: round(v["nss"], 4) for k, v in entry.items() if isinstance(v, dict)}, flush=True)
    if all(r in results for r in ("released", "seed1", "seed2")) and "ensemble3" not in results:
        data, _ = get(LITE0)
        entry = {"label": LABELS["ensemble3"], "epochs": a.epochs}
        for name, d in data.items():
            test = d.splits["test"]
            members = [np.load(out.parent / f"{r}_{name}.npz") for r in ("released", "seed1", "seed2")]
            mean = {s: sum(mb[s] for mb in members) / 3 for s in test}
            entry[name] = gap_row(score(mean, d.shards, test, ("nss",)), baseline_nss(d.shards, test, a.features),
                                  test)
        results["ensemble3"] = entry
        out.write_text(json.dumps(results, indent=1))
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = ["| variant | epochs | OSIE test NSS | gap closed | MIT1003 test NSS | gap closed |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in (*ROWS, "ensemble3"):
        r = results.get(row)
        if r is None:
            continue
        cells = [f"{r[d]['nss']:.4f} | {100 * r[d]['gap_closed']:.1f} %" if d in r else "– | –"
                 for d in ("osie", "mit1003")]
        lines.append(f"| {r['label']} | {r['epochs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

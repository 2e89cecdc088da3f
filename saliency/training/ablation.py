"""Attention ablation: one recipe trained once per attention mechanism, compared in one table.

Every mechanism is a named set of :class:`saliency.models.ModelConfig` overrides applied to the recipe's
model (``model.name`` + ``model.options``) after its attention has been removed: ``blocks`` all "none",
``bottleneck`` "none", ``fusion`` and ``stn`` off. Everything else — encoder, weights, decoder, priors
(unless the mechanism is ``priors``/``no_priors``), data, split, augmentation, optimiser, schedule,
epochs and the seed — is the recipe's, identical for every row. Each run is an ordinary
:func:`saliency.training.train` run in ``<out>/runs/<mechanism>/`` whose final evaluation (best
checkpoint, test split at the stimuli's original resolution, plus ``data.extra_eval`` sets such as MIT1003:
cross-dataset, model unchanged) gives the metric columns.

Added per row: parameters, multiply-adds (``saliency.models.count_macs``) and median CPU latency
(``saliency.models.introspect.measure_latency``, batch 1, eval mode) at 288×384, and the fraction of the
centre-bias → gold-standard NSS gap the model closes per dataset,
``(NSS_model − NSS_centre) / (NSS_gold − NSS_centre)`` (:func:`saliency.metrics.gap_closed`), with both
baselines from :func:`saliency.baselines.compute_baselines` on exactly the scored stimuli (centre-bias
Gaussian fitted to the training split; gold standard = leave-one-observer-out).

Resumable: a mechanism whose run directory holds ``result.json`` for the same configuration is not run
again; an interrupted training resumes from its ``last.pt``. Mechanisms that resolve to the same network
(e.g. ``priors`` when the recipe's model already has priors) are trained once and share the numbers.
Outputs in ``<out>/``: ``runs/<mechanism>/`` and ``baselines.json``; the tables and the attention figure
(``ablation.md``, ``.csv``, ``.json``, ``attention.png``) are written by
:func:`saliency.reports.ablation.write_ablation_report`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saliency.errors import ConfigError, UnknownNameError
from saliency.io import write_json
from saliency.registry import Registry
from saliency.training.config import RunConfig

#: Overrides that remove every attention mechanism from a zoo configuration.
ATTENTION_FREE: dict[str, Any] = {"blocks": ["none"] * 5, "bottleneck": "none", "fusion": False, "stn": False,
                                  "global_context": False, "refine_steps": 0, "coarse_to_fine": False}
LATENCY_HW = (288, 384)


@dataclass(frozen=True)
class Mechanism:
    """A named ModelConfig override; ``where`` says where it sits in the network (for the table)."""

    name: str
    description: str
    where: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


MECHANISMS: Registry[Mechanism] = Registry("attention mechanism")


def _stages(block: str, *stages: int) -> list[str]:
    out = ["none"] * 5
    for s in stages:
        out[s] = block
    return out


def _register() -> tuple[str, ...]:
    deep = "after encoder stages at strides 8, 16, 32"
    items = [
        Mechanism("none", "no attention", "—", {}),
        Mechanism("se", "squeeze-excitation channel gates", deep, {"blocks": _stages("se", 2, 3, 4)}),
        Mechanism("eca", "efficient channel attention", deep, {"blocks": _stages("eca", 2, 3, 4)}),
        Mechanism("cbam", "CBAM channel + spatial gates", deep, {"blocks": _stages("cbam", 2, 3, 4)}),
        Mechanism("non_local", "non-local block (embedded Gaussian)", "after the stride-16 stage",
                  {"blocks": _stages("non_local", 3)}),
        Mechanism("sagan", "SAGAN self-attention", "after the stride-16 stage", {"blocks": _stages("sagan", 3)}),
        Mechanism("mhsa", "transformer bottleneck (global MHSA + MLP)", "on the stride-32 tokens",
                  {"bottleneck": "mhsa"}),
        Mechanism("sk", "selective-kernel convolution", "after the stride-16 and -32 stages",
                  {"blocks": _stages("sk", 3, 4)}),
        Mechanism("residual_attention", "residual attention (hourglass soft mask)", "after the stride-16 stage",
                  {"blocks": _stages("residual_attention", 3)}),
        Mechanism("swin", "Swin shifted-window block pair (window 7)", "after the stride-16 stage",
                  {"blocks": _stages("swin", 3)}),
        Mechanism("axial", "axial attention (rows, then columns)", "after the stride-16 stage",
                  {"blocks": _stages("axial", 3)}),
        Mechanism("fusion", "multi-scale attention fusion of the decoder levels", "decoder output",
                  {"fusion": True}),
        Mechanism("stn", "spatial-transformer front-end", "on the input image", {"stn": True}),
        Mechanism("attention_pool", "additive attention pooling → global context vector",
                  "stride-32 feature → decoder output", {"global_context": True}),
        Mechanism("convgru", "recurrent ConvGRU refinement (3 steps)", "after the head",
                  {"refine_steps": 3}),
        Mechanism("coarse_to_fine", "dynamic capacity: coarse half-size pass + 4 full-resolution cells",
                  "at inference", {"coarse_to_fine": True}),
        Mechanism("priors", "8 learned Gaussian centre-bias maps", "before the head", {"n_priors": 8}),
        Mechanism("no_priors", "no learned centre-bias maps", "before the head", {"n_priors": 0}),
    ]
    for m in items:
        MECHANISMS.add(m.name, m, help=m.description)
    return tuple(m.name for m in items)


#: Table order of the default run: every registered mechanism, "none" first.
DEFAULT_MECHANISMS: tuple[str, ...] = _register()


def get_mechanism(name: str) -> Mechanism:
    try:
        return MECHANISMS.get(name)
    except UnknownNameError:
        raise ConfigError(f"unknown attention mechanism {name!r}; known: {', '.join(DEFAULT_MECHANISMS)}") from None


def mechanism_config(config: RunConfig, mechanism: str | Mechanism) -> RunConfig:
    """The recipe with its model's attention replaced by ``mechanism`` (validated; nothing is built)."""
    mech = mechanism if isinstance(mechanism, Mechanism) else get_mechanism(mechanism)
    if config.model.name == "tiny":
        raise ConfigError("ablation: model.name 'tiny' has no attention options; use a zoo model "
                          "(saliency.models.MODELS), e.g. effnet_lite0")
    if config.data.task != "fixation":
        raise ConfigError(f"ablation: only fixation prediction is supported, got data.task {config.data.task!r}")
    options = {**dict(config.model.options), **ATTENTION_FREE, **dict(mech.overrides)}
    return config.replace(**{"model.options": options, "name": f"{config.name}-{mech.name}"})


def network_config(config: RunConfig) -> dict[str, Any]:
    """The full ``saliency.models.ModelConfig`` a run config builds (as a plain dict, for comparisons)."""
    from saliency import models

    name = config.model.name
    if name == "default":
        name = models.DEFAULT_FIXATION_MODEL
    cfg = models.get_config(name, **dict(config.model.options)).to_dict()
    cfg.pop("description", None)
    return cfg


@dataclass
class AblationResult:
    """Rows (one per mechanism, in the requested order), baselines per dataset, and the files written."""

    out: Path
    rows: list[dict[str, Any]]
    baselines: dict[str, dict[str, Any]]
    datasets: list[str]
    seed: int
    latency_hw: tuple[int, int] = LATENCY_HW
    files: dict[str, Path] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def run_ablation(config: RunConfig, *, mechanisms: Sequence[str] | None = None, out: str | Path | None = None,
                 latency_hw: tuple[int, int] = LATENCY_HW, latency_repeats: int = 5,
                 show_progress: bool = False,
                 on_start: Callable[[int, int, str, str], None] | None = None) -> AblationResult:
    """Train ``config`` once per mechanism (default: all of :data:`MECHANISMS`) and collect the rows.

    out: output folder (default ``<runs_dir>/<name>``). on_start(i, n, mechanism, status) is called before
    each mechanism with status "train", "resume", "done" (finished earlier: skipped) or "same as <m>".
    """
    names = list(mechanisms) if mechanisms else list(DEFAULT_MECHANISMS)
    if len(set(names)) != len(names):
        raise ConfigError(f"ablation: mechanisms listed twice: {names}")
    configs = {n: mechanism_config(config, n) for n in names}
    for extra in config.data.extra_eval:
        if not Path(extra).exists():
            raise ConfigError(f"data.extra_eval: {extra} does not exist (build it with `saliency ingest` + "
                              "`saliency maps`, see docs/training.md) or drop it: --set data.extra_eval=[]")
    out = Path(out) if out is not None else Path(config.runs_dir) / config.name
    out.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, Any]] = []
    by_network: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for i, name in enumerate(names):
        cfg = configs[name]
        net = json.dumps(network_config(cfg), sort_keys=True)
        run_dir = out / "runs" / name
        done = _finished(run_dir, cfg)
        if done is not None:
            status = "done"
            skipped.append(name)
            row = {**done, "run_dir": str(run_dir)}  # where it is now (the folder may have moved)
        elif net in by_network:
            first = by_network[net]
            status = f"same as {first['mechanism']}"
            row = {**first, "same_as": first["mechanism"]}
        else:
            status = "resume" if (run_dir / "checkpoints" / "last.pt").is_file() else "train"
            row = None
        if on_start is not None:
            on_start(i, len(names), name, status)
        if row is None:
            row = _run_one(cfg, run_dir, resume=status == "resume", latency_hw=latency_hw,
                           latency_repeats=latency_repeats, show_progress=show_progress)
        mech = get_mechanism(name)
        row = {**row, "mechanism": name, "description": mech.description, "where": mech.where}
        by_network.setdefault(net, row)
        rows.append(row)

    found = [d for d in rows[0]["evaluation"]] if rows else []
    datasets = sorted(found, key=lambda d: (d != config.data.dataset, found.index(d)))  # the recipe's first
    baselines = _baselines(out, rows, config)
    for row in rows:
        for ds in datasets:
            b = baselines.get(ds)
            m = row["evaluation"].get(ds, {}).get("nss")
            row.setdefault("gap_closed", {})[ds] = _gap(m, b)
    return AblationResult(out=out, rows=rows, baselines=baselines, datasets=datasets, seed=config.seed,
                          latency_hw=latency_hw, skipped=skipped)


# ------------------------------------------------------------------------------------------- one run
def _finished(run_dir: Path, cfg: RunConfig) -> dict[str, Any] | None:
    """The stored row of a finished run of ``cfg`` in ``run_dir`` (None if unfinished or absent)."""
    p = run_dir / "result.json"
    if not p.is_file():
        return None
    row = json.loads(p.read_text())
    from saliency.training.loop import resolve_config

    if row.get("config") != resolve_config(cfg).to_dict():
        raise ConfigError(f"{p}: finished with a different configuration; use another --out or delete "
                          f"{run_dir}")
    return row


def _run_one(cfg: RunConfig, run_dir: Path, *, resume: bool, latency_hw: tuple[int, int], latency_repeats: int,
             show_progress: bool) -> dict[str, Any]:
    import torch

    from saliency.models import count_macs, count_parameters
    from saliency.models.introspect import measure_latency
    from saliency.training.loop import resolve_config, train
    from saliency.training.predict import load_model

    res = train(cfg, run_dir=run_dir, resume=resume, show_progress=show_progress)
    ckpt = res.best_checkpoint if res.best_checkpoint.is_file() else res.last_checkpoint
    model = load_model(ckpt)
    threads = torch.get_num_threads()
    lat = measure_latency(model, height=latency_hw[0], width=latency_hw[1], repeats=latency_repeats)
    evaluation = {ds: {k: v for k, v in s.items() if not isinstance(v, (list, dict))}
                  for ds, s in res.evaluation.items()}
    row = {
        "config": resolve_config(cfg).to_dict(), "network": network_config(cfg), "seed": cfg.seed,
        "run_dir": str(run_dir), "checkpoint": ckpt.name,
        "parameters": count_parameters(model), "macs": count_macs(model, *latency_hw),
        "latency_ms": 1000 * lat.median_s, "latency_threads": threads, "latency_hw": list(latency_hw),
        "epochs": res.epochs_completed, "stopped_early": res.stopped_early,
        f"best_val_{cfg.train.monitor}": res.best_value, "train_s": res.seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "evaluation": evaluation,
    }
    write_json(run_dir / "result.json", row)
    return row


# ----------------------------------------------------------------------------------------- baselines
def _baselines(out: Path, rows: list[dict[str, Any]], config: RunConfig) -> dict[str, dict[str, Any]]:
    """Centre-bias and gold-standard NSS on the scored stimuli of every dataset (cached in baselines.json)."""
    import pandas as pd

    from saliency.baselines import compute_baselines
    from saliency.shards import open_shards

    cache_path = out / "baselines.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    ref = next((r for r in rows if "same_as" not in r), None)
    if ref is None:
        return {}
    run_dir = Path(ref["run_dir"])
    splits = json.loads((run_dir / "splits.json").read_text())["splits"]
    result: dict[str, dict[str, Any]] = {}
    for ds, summary in ref["evaluation"].items():
        shards_path = summary.get("shards")
        per_image = run_dir / "eval" / ds / "per_image.parquet"
        if not shards_path or not per_image.is_file():
            continue
        stimuli = sorted(pd.read_parquet(per_image, columns=["stimulus"])["stimulus"].astype(str))
        convention = summary.get("convention", "pysaliency")
        key = {"shards": shards_path, "stimuli": stimuli, "convention": convention}
        if cache.get(ds, {}).get("key") == key:
            result[ds] = cache[ds]
            continue
        shards = open_shards(shards_path)
        own = summary.get("split") == "test"
        train_stimuli = [s for s in splits["train"] if s in set(shards.stimuli)] if own else None
        res = compute_baselines(shards, convention=convention, metrics=["nss"], stimuli=stimuli,
                                train_stimuli=train_stimuli or None, which=("centre_gaussian", "gold_standard"),
                                seed=config.seed)
        result[ds] = {"key": key, "n_images": len(stimuli),
                      "centre_gaussian_nss": float(res["centre_gaussian"].summary["nss"]),
                      "gold_standard_nss": float(res["gold_standard"].summary["nss"]),
                      "centre_fit": "training split" if train_stimuli else "the dataset's other stimuli"}
    write_json(cache_path, {**cache, **result})
    return result


def _gap(model_nss: Any, b: Mapping[str, Any] | None) -> float | None:
    if b is None or model_nss is None or not math.isfinite(float(model_nss)):
        return None
    from saliency.metrics import gap_closed

    try:
        return float(gap_closed(float(model_nss), b["centre_gaussian_nss"], b["gold_standard_nss"]))
    except ConfigError:
        return None

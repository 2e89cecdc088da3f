"""``saliency adapt MODEL --shards S [--images 50] --out DIR``: few-shot adaptation of a readout model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

ORDER = 62


def register(app: typer.Typer) -> None:
    app.command("adapt")(adapt_cmd)


def adapt_cmd(
    model_ref: str = typer.Argument(..., metavar="MODEL", help="A released readout model name (e.g. generalist) "
                                    "or a model folder (a training run's model/)."),
    shards: Path = typer.Option(..., "--shards", exists=True, file_okay=False, help="Shards of the new dataset."),
    images: int = typer.Option(50, "--images", min=1, help="Adapt on this many images (first in split-hash "
                               "order); the others are scored."),
    out: Path = typer.Option(..., "--out", help="Folder for the adapted model (model.safetensors, spec.json, "
                             "card.md)."),
    method: Literal["default", "lbfgs_shifts", "lbfgs", "adam"] = typer.Option(
        "default", "--method", help="Fitting recipe: default (= lbfgs_shifts: full-batch L-BFGS, also fitting "
        "the readout's two operating-point shifts) | lbfgs (the model's own per-dataset parameters only) | adam "
        "(minibatch Adam, 30 passes: the first release); see docs/generalist.md."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Passes (adam) or iterations (lbfgs); default: "
                               "the recipe's (30 / 100)."),
    score_rest: bool = typer.Option(True, "--score/--no-score", help="Score the other images before and after "
                                    "(metrics + NSS gap; needs the baselines, computed once and cached)."),
    cache: Path = typer.Option(Path("outputs/features"), "--cache", help="Feature cache folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fit only the interpretable per-dataset parameters (centre-bias mean and spread, its weight, blur,
    temperature, per-depth gains, input-scale weights, readout shifts; 11–15 numbers) of a readout model on a
    few images of a new dataset, keep the shared readout, and write the adapted model with its own card.
    Prints the fitted values."""
    import torch

    from saliency.cli.common import console, print_json
    from saliency.errors import ConfigError
    from saliency.models.readout import readout_members
    from saliency.models.released import load_released, released_spec, save_released
    from saliency.training.generalist import (
        HOLDOUT_METRICS,
        adapt_model,
        adaptation_split,
        baseline_nss,
        gap_row,
        load_readout_data,
        model_card,
    )
    from saliency.training.readout_fit import ADAPT_METHODS, predict_cached, score

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_released(model_ref)
    spec = released_spec(model_ref)
    spec.setdefault("name", str(model_ref))
    nets = readout_members(model)
    canvas = tuple(model.canvas)
    d = load_readout_data(str(shards), nets[0], canvas, cache)
    if images >= len(d.shards.stimuli):
        raise ConfigError(f"--images {images}: the shards have only {len(d.shards.stimuli)} images; leave some to score")
    fit_on, rest = adaptation_split(d.shards.stimuli, images)
    log = None if json_out else (lambda m: console().print(m))
    recipe = dict(ADAPT_METHODS[method]) | ({"epochs": epochs} if epochs else {})
    adapted, new_spec = adapt_model(model, spec, d, fit_on, canvas, log=log, **recipe)
    result: dict = {"dataset": d.name, "adapted_on": len(fit_on), "scored": len(rest),
                    "parameters": new_spec["dataset_parameters"][d.name]}
    if score_rest:
        base = baseline_nss(d.shards, rest, cache)
        rows = {}
        for label, m in (("released (unseen-dataset parameters)", model), ("adapted", adapted)):
            preds = [predict_cached(n, d, rest, canvas, None) for n in readout_members(m)]
            mean = {s: sum(p[s] for p in preds) / len(preds) for s in rest}
            rows[f"{d.name} other {len(rest)} images, {label}"] = gap_row(
                score(mean, d.shards, rest, HOLDOUT_METRICS), base, rest)
        new_spec["scores"] = rows
        result["scores"] = rows
    new_spec["name"] = out.name
    save_released(out, adapted, new_spec, model_card(new_spec))
    result["out"] = str(out)
    if json_out:
        print_json(result)
        return
    c = console()
    c.print(f"adapted on {len(fit_on)} images of {d.name}; wrote {out}")
    for k, v in result["parameters"].items():
        c.print(f"  {k:20s} {v:.4f}")
    for label, r in result.get("scores", {}).items():
        c.print(f"  {label}: NSS {r['nss']:.4f} (centre {r['centre_nss']:.4f}, gold {r['gold_nss']:.4f}) → "
                f"gap closed {100 * r['gap_closed']:.1f} %")

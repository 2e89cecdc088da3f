"""``saliency evaluate``: score saliency-map predictions against ground-truth shards."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

ORDER = 60


def _shards(shards_dir: Path):
    from saliency.shards import open_shards

    return open_shards(shards_dir)


def read_stimuli_file(path: Path, split: str | None = None) -> list[str]:
    """Stimulus names from a text file (one per line), a JSON list, or a JSON object of splits (``split`` key,
    e.g. a run's ``splits.json``)."""
    import json

    from saliency.errors import ConfigError

    text = path.read_text()
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("splits"), dict):   # saliency.datasets.write_splits
            data = data["splits"]
        if isinstance(data, dict):
            if split is None:
                raise ConfigError(f"{path}: a JSON object of splits needs --split (one of {sorted(data)})")
            if split not in data:
                raise ConfigError(f"{path}: no split {split!r}; known: {sorted(data)}")
            data = data[split]
        if not isinstance(data, list):
            raise ConfigError(f"{path}: expected a list of stimulus names")
        return [str(s) for s in data]
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        predictions: Path = typer.Argument(..., help="Folder of PNG/NPY/NPZ maps named like the stimuli, a "
                                           "pysaliency HDF5 export, a trained checkpoint (.pt) or a released model "
                                           "(e.g. generalist)."),
        shards: Path = typer.Option(None, "--shards", help="Shard directory (outputs/<dataset>/shards)."),
        sod: Path = typer.Option(None, "--sod", help="Salient-object folder (images/, masks/) instead of shards: "
                                 "scores MAE, F-, S-, E- and weighted F-measure (PySODMetrics conventions)."),
        convention: Literal["pysaliency", "mit"] = typer.Option("pysaliency", "--convention", help="pysaliency | mit"),
        metrics: list[str] = typer.Option(None, "--metrics", "-m", help="Metrics to score (repeatable); "
                                          "default all but emd."),
        resize: bool = typer.Option(False, "--resize", help="Resize predictions to the stimulus size."),
        log_density: bool = typer.Option(False, "--log-density", help="Predictions are log-densities."),
        stimuli_file: Path = typer.Option(None, "--stimuli-file", help="Score only these stimuli."),
        split: str = typer.Option(None, "--split", help="Split name inside a JSON --stimuli-file."),
        out: Path = typer.Option(None, "--out", help="Write per_image.csv/.parquet and summary.json here."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        workers: int = typer.Option(1, "--workers", min=1, help="Threads scoring images concurrently."),
        probabilistic: bool = typer.Option(None, "--probabilistic/--plain", help="Score each metric on the "
                                           "model's metric-specific map (MIT/Tübingen benchmark; adds LL). "
                                           "Default: on for --log-density and fixation checkpoints."),
        sauc_baseline: Literal["centre", "model"] = typer.Option(
            "centre", "--sauc-baseline", help="Probabilistic sAUC map p / p_nonfix: p_nonfix = the fitted "
            "centre bias (centre) or the model's average density over the other scored images (model: the "
            "MIT/Tübingen benchmark's choice; one extra pass over the predictions)."),
    ) -> None:
        """Score predictions with every fixation metric; print a table, write per-image and summary files."""
        from saliency.cli.common import allow_quick_exit, console, print_json
        from saliency.cli.tables import print_results
        from saliency.evaluation.predictions import load_predictions
        from saliency.metrics.evaluation import evaluate
        from saliency.progress import progress

        if (shards is None) == (sod is None):
            raise typer.BadParameter("give exactly one of --shards (fixation data) or --sod (image/mask folder)")
        if sod is not None:
            _evaluate_sod(predictions, sod, stimuli_file, split, out, json_out)
            return
        shard_set = _shards(shards)
        stimuli = read_stimuli_file(stimuli_file, split) if stimuli_file else list(shard_set.stimuli)
        from saliency.released_index import is_released

        is_ckpt = predictions.suffix.lower() in (".pt", ".pth") or is_released(predictions)
        preds = load_predictions(predictions, stimuli, image_path=shard_set.image_path,
                                 log_density=probabilistic is not False)
        if is_ckpt:
            log_density = bool(getattr(preds, "log_density", False))
        if probabilistic is None:
            probabilistic = log_density
        if probabilistic and not log_density:
            raise typer.BadParameter("--probabilistic needs log-density predictions (--log-density, or a "
                                     "fixation checkpoint)")
        names = list(metrics) if metrics else None
        if probabilistic and names is None:
            from saliency.metrics.streaming import DEFAULT_METRICS

            names = [*DEFAULT_METRICS, "ll"]
        import gc

        gc.freeze()    # the objects of start-up (modules, tables) are not traced again by every collection
        with progress(transient=True, disable=json_out) as bar:
            task = bar.add_task("evaluate", total=len(stimuli), rate="")
            result = evaluate(preds, shard_set, metrics=names, convention=convention,
                              log_density=log_density, resize=resize or None, stimuli=stimuli,
                              workers=workers, on_image=lambda _s: bar.advance(task),
                              probabilistic=bool(probabilistic), sauc_baseline=sauc_baseline)
        if out is not None:
            result.save(out)
        allow_quick_exit()      # the files are written and closed: a program run may skip module teardown
        if json_out:
            print_json(result.summary)
            return
        maps = result.summary.get("maps")
        print_results(f"{predictions} — convention: {result.summary['convention']}"
                      + (" — probabilistic (metric-specific maps)" if maps else ""), {"model": result.summary},
                      result.summary["metrics"], maps=maps)
        if out is not None:
            console().print(f"wrote {out}/per_image.csv, per_image.parquet, summary.json")


def _evaluate_sod(predictions: Path, root: Path, stimuli_file: Path | None, split: str | None, out: Path | None,
                  json_out: bool) -> None:
    import pandas as pd

    from saliency.cli.common import console, print_json
    from saliency.cli.tables import fmt_value, print_table
    from saliency.evaluation.predictions import load_predictions
    from saliency.io import atomic_path, write_json
    from saliency.metrics.sod import evaluate_sod_folder
    from saliency.readers.sod import SODMasks

    folder = SODMasks(root)
    stimuli = read_stimuli_file(stimuli_file, split) if stimuli_file else folder.stimuli
    stimuli = [s.rsplit(".", 1)[0] if s.lower().endswith((".jpg", ".jpeg", ".png")) else s for s in stimuli]
    preds = load_predictions(predictions, stimuli, image_path=folder.image_path)
    summary, rows = evaluate_sod_folder(preds, root, stimuli)
    if out is not None:
        with atomic_path(Path(out) / "per_image.parquet") as tmp:
            pd.DataFrame(rows).to_parquet(tmp, index=False)
        write_json(Path(out) / "summary.json", summary)
    if json_out:
        print_json(summary)
        return
    keys = ["mae", "max_fm", "mean_fm", "adp_fm", "sm", "max_em", "mean_em", "adp_em", "wfm"]
    print_table(f"{predictions} — SOD metrics (PySODMetrics conventions)", ["model"],
                [f"{k} {'↓' if k == 'mae' else '↑'}" for k in keys] + ["images"],
                [[fmt_value(float(summary[k])) for k in keys] + [str(summary["n_images"])]])
    o = summary["mask_orientation"]
    console().print(f"masks: {o['rotated']} rotated back to their image's orientation, {o['ambiguous']} ambiguous "
                    f"(square images, used as stored){': ' + ', '.join(o['ambiguous_ids']) if o['ambiguous'] else ''}")
    po = summary.get("prediction_orientation") or {}
    if po.get("rotated"):
        console().print(f"predictions: {po['rotated']} given in their mask's stored (transposed) orientation, "
                        "turned like the mask")

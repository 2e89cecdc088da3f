"""``saliency export``: fixations and predictions in pysaliency's HDF5 layout, 8-bit PNG and float NPY;
trained networks as ONNX or TorchScript files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import typer

ORDER = 92


class PredictionFormat(StrEnum):
    """``saliency export predictions --format`` (a bad one is a usage error, exit 2)."""

    hdf5 = "hdf5"
    png = "png"
    npy = "npy"


def register(app: typer.Typer) -> None:
    export = typer.Typer(help="Export fixations / predictions for pysaliency and benchmark submissions, "
                         "and trained networks as ONNX / TorchScript.",
                         no_args_is_help=True)
    app.add_typer(export, name="export")
    register_benchmark_exports(export)

    @export.command("fixations")
    def export_fixations_cmd(
        source: Path = typer.Argument(..., help="fixations.parquet, a shards folder, or a pipeline run directory."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for stimuli.hdf5 and fixations.hdf5."),
        images: Path | None = typer.Option(None, "--images", help="Stimulus image folder (if the table has no paths)."),
        json_out: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
    ) -> None:
        """Write pysaliency FileStimuli + FixationTrains HDF5 (``pysaliency.read_hdf5`` reads them)."""
        from saliency.cli.common import console, print_json
        from saliency.interop import export_fixations

        table, paths = _load_table(source, images)
        written = export_fixations(table, out, image_paths=paths)
        if json_out:
            print_json({k: str(v) for k, v in written.items()} | {"fixations_n": len(table)})
        else:
            console().print(f"{len(table)} fixations, {len(table.meta.stimuli)} stimuli → "
                            + ", ".join(str(v) for v in written.values()))

    @export.command("predictions")
    def export_predictions_cmd(
        checkpoint: Path = typer.Argument(..., help="A checkpoint (.pt), a training run or a pipeline run directory."),
        images: list[Path] = typer.Argument(..., help="Image files or folders of images."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
        fmt: list[PredictionFormat] = typer.Option(list(PredictionFormat), "--format", "-f",
                                      help="hdf5 (pysaliency model export), png (8-bit), npy (float32); repeatable."),
    ) -> None:
        """Predict maps with a trained model and write them as pysaliency HDF5, 8-bit PNG and/or NPY."""
        from saliency.cli.common import console
        from saliency.interop import export_predictions
        from saliency.progress import progress
        from saliency.training import predict_maps
        from saliency.training.predict import resolve_model

        ckpt = _checkpoint(checkpoint)
        files = _image_files(images)
        model = resolve_model(ckpt)
        items = []
        with progress() as bar:
            task = bar.add_task("predicting", total=len(files), rate="")
            for path, m in predict_maps(model, files):
                items.append((path, m))
                bar.advance(task)
        written = export_predictions(items, out, formats=[str(f) for f in fmt])
        console().print(f"{len(items)} maps → " + ", ".join(str(v) for v in written.values()))

    @export.command("released")
    def export_released_cmd(
        run_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="A training run directory."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder to write (saliency/released/<name> ships it)."),
        description: str = typer.Option("", "--description", help="One line for the card (default: the zoo's)."),
        commit: str = typer.Option("", "--commit", help="The code commit it was trained with (for the card)."),
    ) -> None:
        """Write a trained run as a released model: float16 safetensors, spec.json and the model card
        (``saliency predict --model NAME`` loads it by name once it is in ``saliency/released/NAME``)."""
        from saliency.cli.common import console
        from saliency.training.release import release_run

        path = release_run(run_dir, out, description=description, commit=commit)
        console().print(f"released model written to {path}")

    @export.command("model")
    def export_model_cmd(
        checkpoint: Path = typer.Argument(..., help="A checkpoint (.pt), a training run, a pipeline run directory "
                                          "or a released model name (saliency models --released)."),
        fmt: Literal["onnx", "torchscript"] = typer.Option(..., "--format", "-f", help="onnx | torchscript"),
        out: Path = typer.Option(..., "--out", "-o", help="File to write (.onnx / .pt)."),
        height: int = typer.Option(None, "--height", min=1, help="Trace height (px); default the training canvas."),
        width: int = typer.Option(None, "--width", min=1, help="Trace width (px); default the training canvas."),
        check: bool = typer.Option(True, "--check/--no-check", help="Run the written file on the trace input "
                                   "and report the max |difference| from PyTorch (fails above 1e-4)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write a trained network as ONNX (opset 17, dynamic batch/height/width) or TorchScript (traced).

        Input ``image`` (B, 3, H, W) ImageNet-normalised RGB; output ``saliency`` (B, 1, H, W): the fixation
        log-density or SOD logits, as ``saliency predict`` computes before mapping back to the image.
        """
        from saliency.cli.common import console, print_json
        from saliency.errors import GateFailed
        from saliency.models.export import example_input, export_difference, export_model
        from saliency.models.released import is_released, load_released
        from saliency.training.predict import resolve_model

        if is_released(checkpoint):  # a released model name (e.g. generalist) or folder
            ckpt, model = checkpoint, load_released(checkpoint)
        else:
            ckpt = _checkpoint(checkpoint)  # a .pt file, or a run's checkpoint / readout model folder
            model = resolve_model(ckpt)
        canvas = getattr(model, "canvas", (288, 384))
        h, w = height or int(canvas[0]), width or int(canvas[1])
        export_model(model, out, fmt, h, w)
        result = {"checkpoint": str(ckpt), "out": str(out), "format": fmt, "height": h, "width": w,
                  "task": getattr(model, "task", "fixation")}
        if check:
            result["max_abs_diff"] = export_difference(model, out, fmt, example_input(h, w))
        if json_out:
            print_json(result)
        else:
            diff = f", max |exported − PyTorch| = {result['max_abs_diff']:.2e}" if check else ""
            console().print(f"{ckpt} → {out} ({fmt}, traced at {h}×{w}{diff})", highlight=False)
        if check and not result["max_abs_diff"] <= 1e-4:
            raise GateFailed(f"{out}: exported model differs from PyTorch by {result['max_abs_diff']:.3g} > 1e-4")


_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def _image_files(paths: list[Path]) -> list[Path]:
    from saliency.errors import ConfigError

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in _IMAGE_EXT))
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"{p}: no such image or folder")
    if not out:
        raise ConfigError("no images given")
    return out


def _load_table(source: Path, images: Path | None):
    """(FixationTable, {stimulus: image path} or None) from a parquet file, shards, or a pipeline run."""
    from saliency.fixations.table import FixationTable

    if source.is_dir() and (source / "ingest" / "fixations.parquet").is_file():
        source = source / "ingest" / "fixations.parquet"
    if source.is_file():
        table = FixationTable.read_parquet(source)
        paths = None
        if images is not None:
            paths = {s: images / s for s in table.meta.stimuli}
        return table, paths
    shards_root = source / "maps" / "shards" if (source / "maps" / "shards").is_dir() else source
    from saliency.shards import open_shards

    shards = open_shards(shards_root)
    paths = {s: shards.image_path(s) for s in shards.stimuli}
    return shards.fixations, paths


def _checkpoint(source: Path) -> Path:
    from saliency.errors import ConfigError
    from saliency.reports.rundir import find_checkpoint, find_train_dir

    ckpt = source if source.is_file() else find_checkpoint(find_train_dir(source))
    if ckpt is None:
        raise ConfigError(f"{source}: no checkpoint (expected a .pt file or a run with checkpoints/ or model/)")
    return ckpt


def register_benchmark_exports(export: typer.Typer) -> None:
    """``export metric-maps`` and ``export submission`` (issue 14: benchmark submissions)."""

    @export.command("metric-maps")
    def export_metric_maps_cmd(
        predictions: Path = typer.Argument(..., help="A fixation checkpoint (.pt) / run directory, or log-density "
                                           "predictions (folder of .npy, pysaliency HDF5)."),
        shards: Path = typer.Option(..., "--shards", help="Shard directory: defines the blur of the expected "
                                    "empirical saliency map and the centre bias (fitted to the images not exported)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder: <kind>/<stem>.npy per map kind."),
        stimuli_file: Path = typer.Option(None, "--stimuli-file", help="Only these stimuli."),
        split: str = typer.Option(None, "--split", help="Split name inside a JSON --stimuli-file."),
        metrics: list[str] = typer.Option(None, "--metrics", "-m", help="Only the maps of these metrics."),
        sauc_baseline: Literal["centre", "model"] = typer.Option(
            "centre", "--sauc-baseline", help="sauc/ map's nonfixation density: the fitted centre bias (centre) "
            "or the model's average over the other exported images (model: the benchmark's choice)."),
        json_out: bool = typer.Option(False, "--json", help="Print the written folders as JSON."),
    ) -> None:
        """Write the metric-specific saliency maps of a probabilistic model (Kümmerer et al. 2018) as float32
        NPY: density/ (AUC, NSS), sauc/ (log p − log nonfixation density), log/ (IG, LL), expected/ (CC, KL, SIM)."""
        from saliency.cli.common import console, print_json
        from saliency.cli.evaluate import _shards, read_stimuli_file
        from saliency.evaluation.predictions import load_predictions
        from saliency.io import write_json
        from saliency.metrics.evaluation import iter_metric_maps
        from saliency.metrics.probabilistic import MAP_DESCRIPTIONS, MAP_FOR_METRIC
        from saliency.progress import progress

        shard_set = _shards(shards)
        stimuli = read_stimuli_file(stimuli_file, split) if stimuli_file else list(shard_set.stimuli)
        import numpy as np

        src = predictions   # a run directory (no .npy maps inside) → its checkpoint
        if predictions.is_dir() and not any(predictions.glob("*.npy")):
            src = _checkpoint(predictions)
        preds = load_predictions(src, stimuli, image_path=shard_set.image_path, log_density=True)
        counts: dict[str, int] = {}
        with progress(transient=True, disable=json_out) as bar:
            task = bar.add_task("metric maps", total=len(stimuli), rate="")
            for stim, maps in iter_metric_maps(preds, shard_set, stimuli=stimuli, metrics=metrics or None,
                                                sauc_baseline=sauc_baseline):
                for kind, m in maps.items():
                    path = out / kind / f"{Path(stim).stem}.npy"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    np.save(path, m.astype(np.float32))
                    counts[kind] = counts.get(kind, 0) + 1
                bar.advance(task)
        index = {"maps": {k: {"description": MAP_DESCRIPTIONS[k], "n": n,
                              "metrics": sorted(m for m, kk in MAP_FOR_METRIC.items() if kk == k)}
                          for k, n in counts.items()}, "shards": str(shards), "n_stimuli": len(stimuli),
                 "sauc_baseline": sauc_baseline}
        write_json(out / "index.json", index)
        if json_out:
            print_json(index)
        else:
            console().print(f"{len(stimuli)} stimuli → {out}/" + "{" + ",".join(counts) + "}/*.npy, index.json")

    @export.command("submission")
    def export_submission_cmd(
        checkpoint: Path = typer.Argument(..., help="A fixation checkpoint (.pt), a training or pipeline run."),
        images: list[Path] = typer.Argument(..., help="The benchmark's stimulus images or folders (CAT2000: the "
                                            "category folders, or Stimuli/ itself)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder (mit300, cat2000) or .hdf5 file (tuebingen)."),
        layout: str = typer.Option("mit300", "--layout", help="mit300 | cat2000 (JPEG maps) | tuebingen "
                                   "(log-densities, pysaliency HDF5)."),
        json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    ) -> None:
        """Predict every stimulus and write a benchmark submission: JPEG maps (the model's density, 8-bit,
        named and sized like the stimuli; CAT2000 in category folders) or the Tübingen HDF5 of log-densities."""
        import numpy as np

        from saliency.cli.common import console, print_json
        from saliency.evaluation.submission import LAYOUTS, write_jpeg_submission, write_tuebingen_submission
        from saliency.metrics.probabilistic import logsumexp
        from saliency.progress import progress
        from saliency.training import predict_maps
        from saliency.training.predict import resolve_model

        if layout not in LAYOUTS:
            raise typer.BadParameter(f"expected one of {', '.join(LAYOUTS)}, got {layout!r}", param_hint="--layout")
        files = []
        for p in images:       # CAT2000's Stimuli/ holds one folder per category
            files += _image_files([d for d in sorted(p.iterdir()) if d.is_dir()] if p.is_dir() and not any(
                f.suffix.lower() in _IMAGE_EXT for f in p.iterdir()) else [p])
        model = resolve_model(_checkpoint(checkpoint))
        items = []
        with progress(transient=True, disable=json_out) as bar:
            task = bar.add_task("predicting", total=len(files), rate="")
            for path, m in predict_maps(model, files):
                m = np.asarray(m, dtype=np.float64)
                if layout == "tuebingen":
                    with np.errstate(divide="ignore"):
                        m = np.log(m)
                    m = m - logsumexp(m)
                items.append((path, m))
                bar.advance(task)
        if layout == "tuebingen":
            written = [write_tuebingen_submission(items, out)]
        else:
            written = write_jpeg_submission(items, out, layout=layout)
        result = {"layout": layout, "n_stimuli": len(items), "out": str(out), "files": len(written)}
        if json_out:
            print_json(result)
        else:
            console().print(f"{len(items)} stimuli → {out} ({layout}, {len(written)} file(s))")

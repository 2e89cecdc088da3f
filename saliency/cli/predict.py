"""``saliency predict [MODEL] IMAGES... --out DIR [--format npy|png]`` (MODEL: a checkpoint or a released
model name, also as ``--model``; without it the released ``generalist``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

ORDER = 61


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        items: list[str] = typer.Argument(..., metavar="[MODEL] IMAGES...",
                                          help="Optional model first (a checkpoint .pt or a released model name, "
                                          "see 'saliency models --released'), then image files."),
        model_ref: str = typer.Option(None, "--model", "-m", help="A checkpoint (.pt) or a released model "
                                      "name (package folder saliency/released/, e.g. 'sod') [default: the "
                                      "released 'generalist']."),
        out: Path = typer.Option(..., "--out", help="Output directory."),
        fmt: Literal["npy", "png"] = typer.Option("npy", "--format", help="npy (float32 map) or png (8-bit, min–max scaled)."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N."),
        backend: Literal["torch", "onnx", "onnx-int8"] = typer.Option("torch", "--backend", help="torch | onnx (ONNX Runtime, CPU; needs the "
                                    "export extra) | onnx-int8 (int8 weights, see docs/models.md)."),
        threads: int = typer.Option(None, "--threads", min=1, help="Intra-op threads of the model "
                                    "[default: all cores]."),
        io_workers: int = typer.Option(2, "--io-workers", min=1, help="Threads decoding, resizing and "
                                       "writing images while the model runs."),
        centre_bias: Path = typer.Option(None, "--centre-bias", help="Your own dataset prior for a readout model "
                                         "(e.g. generalist): a shards folder (Gaussian + uniform fitted to its "
                                         "fixations) or a JSON file {mean_x, mean_y, sigma_x, sigma_y, "
                                         "uniform_eps} in canvas fractions."),
    ) -> None:
        """Write one map per image at the image's original size.

        Without a model the released ``generalist`` (shipped with the package) is used.
        Fixation models: a probability map; SOD models: per-pixel probabilities in [0, 1]. npy: float32 as
        predicted; png: the benchmark submission format of ``saliency export``, round(255·(m − min)/(max − min))
        (docs/reports.md).
        """
        import time

        import numpy as np
        import torch

        from saliency.errors import ConfigError
        from saliency.interop.images import write_prediction_npy, write_prediction_png
        from saliency.progress import progress, rate_text
        from saliency.training.inference import make_forward, predict_files
        from saliency.training.predict import is_model_ref, resolve_model

        if model_ref is None and items and is_model_ref(items[0]):
            model_ref, items = items[0], items[1:]
        images = [Path(p) for p in items]
        if not images:
            raise ConfigError("saliency predict: no image given")
        for p in images:
            if not p.is_file():
                raise ConfigError(f"{p}: no such image file")
        model = resolve_model(model_ref, device=device)  # None → the released generalist
        if centre_bias is not None:
            from saliency.models.readout import set_centre_bias
            from saliency.training.generalist import centre_bias_from

            set_centre_bias(model, centre_bias_from(centre_bias, tuple(model.canvas)))
        if threads is not None:
            torch.set_num_threads(threads)
        forward = make_forward(model, backend, threads=threads, device=device)
        out.mkdir(parents=True, exist_ok=True)

        def write(path: Path, smap: np.ndarray) -> None:
            target = out / f"{path.stem}.{fmt}"
            if fmt == "npy":
                write_prediction_npy(smap, target)
            else:
                write_prediction_png(smap, target)

        t0 = time.perf_counter()
        with progress() as prog:
            task = prog.add_task("predict", total=len(images), rate="")
            for k, _ in enumerate(predict_files(forward, images, model.canvas, getattr(model, "task", "fixation"),
                                                write=write, workers=io_workers), 1):
                prog.update(task, advance=1, rate=rate_text(k, time.perf_counter() - t0, "img"))

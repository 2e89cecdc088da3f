"""``saliency predict [MODEL] IMAGES... --out DIR [--format npy|png]`` (MODEL: checkpoint or released name;
without it the released ``generalist`` model)."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 61


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        items: list[str] = typer.Argument(..., metavar="[MODEL] IMAGES...",
                                          help="Optional model first (a checkpoint .pt or a released model name, "
                                          "see 'saliency models --released'), then image files."),
        out: Path = typer.Option(..., "--out", help="Output directory."),
        model_ref: str = typer.Option(None, "--model", "-m", help="Checkpoint or released model name "
                                      "[default: the released 'generalist']."),
        fmt: str = typer.Option("npy", "--format", help="npy (float32 map) or png (8-bit, min–max scaled)."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N."),
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
        from saliency.errors import ConfigError
        from saliency.interop.images import write_prediction_npy, write_prediction_png
        from saliency.progress import progress, rate_text
        from saliency.training import is_model_ref, predict_maps, resolve_model

        if fmt not in ("npy", "png"):
            raise ConfigError(f"--format must be npy or png, got {fmt!r}")
        if model_ref is None and items and is_model_ref(items[0]):
            model_ref, items = items[0], items[1:]
        images = [Path(p) for p in items]
        for p in images:
            if not p.is_file():
                raise ConfigError(f"{p}: no such image file")
        if not images:
            raise ConfigError("saliency predict: no image given")
        model = resolve_model(model_ref, device=device)
        if centre_bias is not None:
            from saliency.models.readout import set_centre_bias
            from saliency.training.generalist import centre_bias_from

            set_centre_bias(model, centre_bias_from(centre_bias, tuple(model.canvas)))
        import time

        t0 = time.perf_counter()
        with progress() as prog:
            task = prog.add_task("predict", total=len(images), rate="")
            for k, (path, smap) in enumerate(predict_maps(model, images, device=device), 1):
                target = out / f"{path.stem}.{fmt}"
                if fmt == "npy":
                    write_prediction_npy(smap, target)
                else:
                    write_prediction_png(smap, target)
                prog.update(task, advance=1, rate=rate_text(k, time.perf_counter() - t0, "img"))

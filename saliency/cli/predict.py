"""``saliency predict CHECKPOINT IMAGES... --out DIR [--format npy|png]``."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 61


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        checkpoint: Path = typer.Argument(..., exists=True, dir_okay=False, help="A checkpoint (.pt)."),
        images: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Image files."),
        out: Path = typer.Option(..., "--out", help="Output directory."),
        fmt: str = typer.Option("npy", "--format", help="npy (float32 map) or png (8-bit, min–max scaled)."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N."),
    ) -> None:
        """Write one map per image at the image's original size.

        Fixation models: a probability map; SOD models: per-pixel probabilities in [0, 1]. npy: float32 as
        predicted; png: the benchmark submission format of ``saliency export``, round(255·(m − min)/(max − min))
        (docs/reports.md).
        """
        from saliency.errors import ConfigError
        from saliency.interop.images import write_prediction_npy, write_prediction_png
        from saliency.progress import progress, rate_text
        from saliency.training import load_model, predict_maps

        if fmt not in ("npy", "png"):
            raise ConfigError(f"--format must be npy or png, got {fmt!r}")
        model = load_model(checkpoint, device=device)
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

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
        fmt: str = typer.Option("npy", "--format", help="npy (float32 map) or png (8-bit, scaled to max)."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N."),
    ) -> None:
        """Write one map per image at the image's original size.

        Fixation models: a probability map (npy: float32 summing to 1; png: divided by its maximum,
        ×255). SOD models: per-pixel probabilities (npy float32 in [0, 1]; png ×255).
        """
        import numpy as np
        from PIL import Image

        from saliency.errors import ConfigError
        from saliency.io import atomic_write
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
                    with atomic_write(target, "wb") as fh:
                        np.save(fh, smap.astype(np.float32))
                else:
                    scaled = smap / smap.max() if smap.max() > 0 else smap
                    with atomic_write(target, "wb") as fh:
                        Image.fromarray((scaled * 255).round().astype(np.uint8)).save(fh, format="PNG")
                prog.update(task, advance=1, rate=rate_text(k, time.perf_counter() - t0, "img"))

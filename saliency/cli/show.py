"""``saliency show``: render a stimulus' ground truth (heat map, fixations, scanpaths) as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

ORDER = 22


def register(app: typer.Typer) -> None:
    app.command("show")(show)


def show(
    stimulus: str = typer.Argument(..., help="Stimulus name as in the manifest (e.g. 1001.jpg)."),
    shards: Path = typer.Option(..., "--shards", help="Shard folder (outputs/<dataset>/shards).", file_okay=False),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    cmap: str = typer.Option("jet", "--cmap", help="matplotlib colormap of the heat map."),
    alpha: float = typer.Option(0.6, "--alpha", min=0.0, max=1.0, help="Heat-map opacity at the peak."),
    no_scanpaths: bool = typer.Option(False, "--no-scanpaths", help="Dots only, no saccade lines."),
    attention: Path = typer.Option(None, "--attention", help="Model checkpoint: add its attention maps "
                                   "(saliency.models.attention_maps) as extra panels; a released readout model "
                                   "(e.g. generalist): its image term, centre bias and prediction."),
) -> None:
    """Write a PNG: the stimulus with scanpaths beside the ground-truth heat map over it."""
    import numpy as np
    from PIL import Image

    from saliency.cli.common import console
    from saliency.errors import ReaderError
    from saliency.io import atomic_path
    from saliency.maps.render import render_ground_truth
    from saliency.shards import open_shards

    gt = open_shards(shards).load(stimulus)
    try:
        with Image.open(gt.image_path) as im:
            image = np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise ReaderError(f"cannot read the stimulus image ({exc}); the manifest records this path",
                          path=gt.image_path) from exc
    extra = _attention_panels(attention, image) if attention is not None else None
    picture = render_ground_truth(image, gt.density, gt.fixations, cmap=cmap, alpha=alpha,
                                  scanpaths=not no_scanpaths, title=stimulus, extra=extra)
    with atomic_path(out) as tmp:
        picture.save(tmp, format="PNG")
    console().print(f"wrote {out} ({picture.width}×{picture.height} px)", highlight=False)


def _attention_panels(checkpoint: Path, image: Any) -> list:
    """Attention maps of a trained model on this image, one panel per spatial map.

    The image is letterboxed onto the model's training canvas as for prediction and each map is brought
    back to the image's size (``saliency.models.introspect.attention_on_image``), then min–max stretched
    (the label states the map's range: sigmoid gates often vary only a little); channel-only weights
    (SE, ECA, SK) have no spatial extent and are left out. A model without spatial attention maps is an
    error naming the checkpoint.
    """
    from saliency.errors import ConfigError
    from saliency.models.introspect import attention_on_image
    from saliency.released_index import is_released
    from saliency.training import load_model

    if is_released(checkpoint):
        return _readout_panels(checkpoint, image)
    model = load_model(checkpoint).eval()
    maps = attention_on_image(model, image, canvas=getattr(model, "canvas", None))
    panels = []
    for name, m in maps:  # stretched to [0, 1] for display; the label keeps the map's own range
        lo, hi = float(m.min()), float(m.max())
        panels.append((f"attention {name} [{lo:.3g}, {hi:.3g}]", (m - lo) / (hi - lo) if hi > lo else m * 0))
    if not panels:
        raise ConfigError(f"{checkpoint}: the model has no spatial attention maps to show (no block of "
                          f"{type(model).__name__} computes one; channel attention such as SE/ECA is not drawn)")
    return panels


def _readout_panels(name: Path, image: Any) -> list:
    """A released readout model's parts on this image (letterboxed as for prediction, brought back to the
    image size, min–max stretched): image term, centre bias, predicted density."""
    import numpy as np

    from saliency.datasets import Letterbox, normalize_image
    from saliency.models.readout import readout_members
    from saliency.models.released import load_released

    model = load_released(name)
    net = readout_members(model)[0]
    lb = Letterbox.fit(image.shape[0], image.shape[1], *model.canvas)
    parts = net.explain(normalize_image(lb.image_to_canvas(image))[None])
    panels = []
    for label, t in parts.items():
        m = lb.map_to_stimulus(t[0, 0].numpy().astype(np.float32))
        if label == "log-density":
            label, m = "predicted density", np.exp(m - m.max())
        lo, hi = float(m.min()), float(m.max())
        panels.append((f"{name}: {label} [{lo:.3g}, {hi:.3g}]", (m - lo) / (hi - lo) if hi > lo else m * 0))
    return panels

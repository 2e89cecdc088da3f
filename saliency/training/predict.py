"""Rebuilding a trained model from a checkpoint and predicting maps at the images' original size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from saliency.errors import SaliencyError, SchemaError
from saliency.training.checkpoint import load_checkpoint, require_fields
from saliency.training.evaluation import predict_maps_iter
from saliency.training.modeling import rebuild_network


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The network stored in ``checkpoint`` (loaded with weights_only=True), in eval mode.

    ``model.canvas`` is set to the (height, width) it was trained at, ``model.tta_flip`` to the run's
    flip-TTA setting (SOD; False for checkpoints without one), ``model.tta_scales`` to its TTA canvas
    scales (SOD; (1.0,) for checkpoints without them).
    """
    ck = load_checkpoint(checkpoint, map_location="cpu")
    require_fields(ck, checkpoint, ("model_spec", "model", "canvas"))
    try:
        model = rebuild_network(ck["model_spec"])
        model.load_state_dict(ck["model"])
        model.canvas = tuple(int(v) for v in ck["canvas"])
        model.tta_flip = bool(ck.get("tta_flip", False))
        model.tta_scales = tuple(float(s) for s in ck.get("tta_scales", (1.0,)))
    except SaliencyError as exc:
        raise SchemaError(f"{checkpoint}: {exc}") from exc
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise SchemaError(f"{checkpoint}: checkpoint does not rebuild its network ({type(exc).__name__}: "
                          f"{str(exc)[:300]})") from exc
    return model.to(torch.device(device)).eval()


def predict_maps(model: nn.Module, image_paths: Sequence[str | Path], *, canvas: tuple[int, int] | None = None,
                 device: str | torch.device = "cpu") -> Iterator[tuple[Path, np.ndarray]]:
    """Yield (path, (h, w) float32 map at the image's original size) for each image.

    Fixation models give a probability map summing to 1; SOD models per-pixel probabilities.
    """
    canvas = canvas or getattr(model, "canvas", None)
    if canvas is None:
        raise ValueError("predict_maps: pass canvas=(height, width) for a model not from load_model")
    yield from predict_maps_iter(model, image_paths, canvas, device)


DEFAULT_RELEASED = "generalist"


def resolve_model(ref: str | Path | None, device: str | torch.device = "cpu") -> nn.Module:
    """A model from a reference: ``None`` → the released ``generalist``; an existing file → a training
    checkpoint (:func:`load_model`); otherwise a released model name or folder
    (:func:`saliency.models.released.load_released`). Eval mode, ``model.canvas`` set."""
    from saliency.models.released import load_released

    if ref is None:
        return load_released(DEFAULT_RELEASED, device=device)
    if Path(ref).is_file():
        return load_model(ref, device=device)
    return load_released(ref, device=device)


def is_model_ref(ref: str | Path) -> bool:
    """True if ``ref`` names a checkpoint file (``.pt``) or a released model (name or folder)."""
    from saliency.released_index import is_released

    p = Path(ref)
    return (p.is_file() and p.suffix == ".pt") or is_released(ref)

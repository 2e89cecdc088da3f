"""Exporting a network for deployment: ONNX (onnxruntime) and TorchScript.

Both formats keep the model contract: input ``image`` (B, 3, H, W) float32 ImageNet-normalised RGB
(:func:`saliency.datasets.images.normalize_image`), output ``saliency`` (B, 1, H, W) — the fixation log-density
(log-softmax over the H·W pixels of each image) or SOD logits, exactly as ``model(x)`` in eval mode.

ONNX uses the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``), opset 17 by
default, with dynamic batch, height and width axes (the padding to a multiple of 32, the learned priors
and the crop are traced as shape arithmetic). TorchScript uses :func:`torch.jit.trace`, which also keeps
the shape arithmetic dynamic. Attention blocks run their eval-mode path (explicit softmax).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from saliency.errors import ConfigError
from saliency.io import atomic_path

FORMATS = ("onnx", "torchscript")
DEFAULT_OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "saliency"


def example_input(height: int, width: int, batch: int = 1) -> torch.Tensor:
    """The fixed (seed 0) standard-normal (batch, 3, height, width) tensor exports are traced on."""
    if height < 1 or width < 1:
        raise ConfigError(f"export: height and width must be ≥ 1 px, got {height}×{width}")
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0))


def export_onnx(model: nn.Module, path: str | Path, height: int = 288, width: int = 384, *,
                opset: int = DEFAULT_OPSET, dynamic: bool = True) -> Path:
    """Write ``model`` (put in eval mode) as an ONNX file traced on a (1, 3, height, width) input.

    ``dynamic``: batch, height and width are dynamic axes (any size runs in onnxruntime); else the
    file only accepts (1, 3, height, width). Written atomically. Returns ``path``.
    """
    if opset < 17:
        raise ConfigError(f"export_onnx: opset must be ≥ 17 (LayerNormalization), got {opset}")
    path = Path(path)
    model.eval()
    x = example_input(height, width)
    axes = None
    if dynamic:
        axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError as exc:
        raise ConfigError("ONNX export needs the onnx package: pip install 'saliency[export]'") from exc
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the tracer warns about every Python-int shape computation; they are exported symbolically
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp), dynamo=False, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=opset)
    return path


def export_torchscript(model: nn.Module, path: str | Path, height: int = 288, width: int = 384) -> Path:
    """Write ``model`` (put in eval mode) as a traced TorchScript file (``torch.jit.load`` reads it).

    Traced on a (1, 3, height, width) input; other sizes run too (shape arithmetic is traced).
    Written atomically. Returns ``path``.
    """
    path = Path(path)
    model.eval()
    x = example_input(height, width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (x,), check_trace=False)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch ≥ 2.9 steers to torch.export
        torch.jit.save(traced, str(tmp))
    return path


def run_exported(path: str | Path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """Run an exported file on ``x`` (B, 3, H, W): onnxruntime (CPU provider) or ``torch.jit.load``."""
    if fmt == "onnx":
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("running an ONNX file needs onnxruntime: pip install 'saliency[export]'") from exc
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {INPUT_NAME: x.detach().cpu().numpy()})[0])
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return loaded(x.detach().cpu())
    raise ConfigError(f"export: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def export_difference(model: nn.Module, path: str | Path, fmt: str, x: torch.Tensor) -> float:
    """Max |exported(x) − model(x)| (eval mode): on the fixation log-density or the SOD logits."""
    model.eval()
    with torch.no_grad():
        ours = model(x).cpu()
    theirs = run_exported(path, fmt, x)
    if tuple(theirs.shape) != tuple(ours.shape):
        raise ConfigError(f"{path}: exported model gives shape {tuple(theirs.shape)}, PyTorch {tuple(ours.shape)}")
    return float((theirs - ours).abs().max())


def export_model(model: nn.Module, path: str | Path, fmt: str, height: int = 288, width: int = 384) -> Path:
    """Dispatch on ``fmt`` ("onnx" | "torchscript")."""
    if fmt == "onnx":
        return export_onnx(model, path, height, width)
    if fmt == "torchscript":
        return export_torchscript(model, path, height, width)
    raise ConfigError(f"export: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

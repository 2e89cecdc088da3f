"""Batch-1 inference for ``saliency predict``: a PyTorch or ONNX Runtime forward, threaded image I/O.

Backends (:func:`make_forward`), each a function (1, 3, H, W) float32 ImageNet-normalised array →
(1, 1, H, W) float32 output (fixation log-density or SOD logits, as ``model(x)`` in eval mode):

``torch``
    the network itself under ``torch.inference_mode``.
``onnx``
    the network exported with :func:`saliency.models.export.export_onnx` (opset 17, dynamic axes) into a
    temporary file and run by ONNX Runtime's CPU provider (graph optimisations on; ``threads`` intra-op
    threads, default all cores, not spinning while idle). Needs the ``export`` extra (onnx, onnxruntime).
``onnx-int8``
    the same graph with weights quantised to int8 by ONNX Runtime's dynamic quantisation (per-channel
    weights, activations quantised at run time); :mod:`benchmarks.bench_inference` measures its NSS loss.

:func:`predict_files` overlaps reading, decoding and letterboxing the next images and resizing and writing
the previous maps (a thread pool: PIL/OpenCV/numpy release the GIL) with the model's forward passes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from saliency.datasets import Letterbox, normalize_image, read_rgb
from saliency.errors import ConfigError

BACKENDS = ("torch", "onnx", "onnx-int8")
Forward = Callable[[np.ndarray], np.ndarray]


def _onnx_session(model: nn.Module, canvas: tuple[int, int], int8: bool, threads: int | None):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError("--backend onnx needs onnxruntime: pip install 'saliency[export]'") from exc
    from saliency.models.export import export_onnx

    with tempfile.TemporaryDirectory(prefix="saliency-onnx-") as tmp:
        path = export_onnx(model.cpu(), Path(tmp) / "model.onnx", *canvas)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            q = Path(tmp) / "model.int8.onnx"
            quantize_dynamic(str(path), str(q), weight_type=QuantType.QInt8, per_channel=True)
            path = q
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        # idle intra-op threads sleep instead of spinning: on a busy (shared) machine spinning threads fight the
        # other jobs for the cores (measured: 2 spinning threads 11 img/s, 2 sleeping threads 20 img/s, load ≈ 6)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(path.read_bytes(), sess_options=opts, providers=["CPUExecutionProvider"])


def make_forward(model: nn.Module, backend: str = "torch", *, canvas: tuple[int, int] | None = None,
                 threads: int | None = None, device: str | torch.device = "cpu") -> Forward:
    """The forward function of ``model`` on ``backend`` (module docstring). ``canvas``: the (H, W) the ONNX
    graph is traced at (default ``model.canvas``; other sizes run too). A SOD model with ``tta_flip`` (set by
    ``load_model`` / ``load_released``) or with ``tta_scales`` gets :func:`with_tta` around it."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    model.eval()
    flip, scales = model_tta(model)
    if getattr(model, "task", "") == "sod" and (flip or scales != (1.0,)):
        return with_tta(_make_forward(model, backend, canvas=canvas, threads=threads, device=device),
                        flip=flip, scales=scales)
    return _make_forward(model, backend, canvas=canvas, threads=threads, device=device)


def _make_forward(model: nn.Module, backend: str, *, canvas: tuple[int, int] | None,
                  threads: int | None, device: str | torch.device) -> Forward:
    if backend == "torch":
        dev = torch.device(device)

        def run_torch(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x).to(dev)).float().cpu().numpy()
        return run_torch
    if torch.device(device).type != "cpu":
        raise ConfigError(f"--backend {backend} runs on the CPU; leave --device at cpu")
    canvas = canvas or getattr(model, "canvas", None) or (288, 384)
    session = _onnx_session(model, canvas, backend == "onnx-int8", threads)
    from saliency.models.export import INPUT_NAME

    def run_onnx(x: np.ndarray) -> np.ndarray:
        return session.run(None, {INPUT_NAME: x})[0]
    return run_onnx


def mean_probability_logits(*logits: np.ndarray) -> np.ndarray:
    """Logits of the mean of the probabilities sigmoid(z) of the given logit maps (SOD TTA averages
    probabilities; returning logits keeps every later step, :func:`to_stimulus`, unchanged)."""
    p = np.mean([1 / (1 + np.exp(-z.astype(np.float64))) for z in logits], axis=0)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


def scaled_size(height: int, width: int, scale: float, multiple: int = 32) -> tuple[int, int]:
    """The (H, W) a canvas is resized to for one TTA scale: ``scale`` × each side, rounded to a multiple of
    ``multiple`` px (the encoder's stride), at least ``multiple``."""
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, C, H, W) float32 to ``size`` (antialiased when shrinking)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    shrink = size[0] < t.shape[-2] or size[1] < t.shape[-1]
    return torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False,
                                           antialias=shrink).numpy()


def tta_views(forward: Forward, x: np.ndarray, *, flip: bool, scales: Sequence[float] = (1.0,)) -> list[np.ndarray]:
    """The SOD logits of every test-time view of the (N, 3, H, W) canvas batch ``x``, each back at (H, W):
    per scale ``s`` the canvas bilinearly resized to :func:`scaled_size` (unchanged when that is (H, W)),
    and with ``flip`` also its horizontal mirror (mirrored back). Order: per scale, plain then mirrored."""
    h, w = x.shape[-2:]
    views = []
    for s in scales:
        size = scaled_size(h, w, s)
        xs = x if size == (h, w) else _resize(x, size)
        outs = [forward(np.ascontiguousarray(xs))]
        if flip:
            outs.append(forward(np.ascontiguousarray(xs[..., ::-1]))[..., ::-1])
        views += [z if size == (h, w) else _resize(z, (h, w)) for z in outs]
    return views


def with_tta(forward: Forward, *, flip: bool, scales: Sequence[float] = (1.0,)) -> Forward:
    """SOD test-time augmentation on any backend: the logits of the mean probability of the views of
    :func:`tta_views` (flip only, scale 1: the image and its mirror)."""
    def run(x: np.ndarray) -> np.ndarray:
        views = tta_views(forward, x, flip=flip, scales=scales)
        return views[0] if len(views) == 1 else mean_probability_logits(*views)
    return run


def model_tta(model: nn.Module) -> tuple[bool, tuple[float, ...]]:
    """(flip, scales) of a SOD model's test-time augmentation (``model.tta_flip``, ``model.tta_scales``: set
    by ``load_model`` / ``load_released``; default no flip, scale 1)."""
    return bool(getattr(model, "tta_flip", False)), tuple(float(s) for s in getattr(model, "tta_scales", (1.0,)))


def to_canvas(image: np.ndarray, canvas: tuple[int, int]) -> tuple[Letterbox, torch.Tensor]:
    """(h, w, 3) uint8 image → its letterbox onto ``canvas`` and the (1, 3, H, W) normalised network input
    (the inverse of :func:`to_stimulus`)."""
    lb = Letterbox.fit(image.shape[0], image.shape[1], *canvas)
    return lb, normalize_image(lb.image_to_canvas(image))[None]


def _prepare(path: Path, canvas: tuple[int, int]) -> tuple[Letterbox, np.ndarray]:
    lb, x = to_canvas(read_rgb(path), canvas)
    return lb, x.numpy()


def to_stimulus(out: np.ndarray, lb: Letterbox, task: str) -> np.ndarray:
    """(H, W) canvas output → (h, w) float32 map at the image's size (fixation: probabilities summing to 1;
    SOD: per-pixel probabilities), as :func:`saliency.training.evaluation.predict_array` returns it."""
    if task == "fixation":
        return np.exp(lb.log_density_to_stimulus(out)).astype(np.float32)
    prob = 1 / (1 + np.exp(-out.astype(np.float64)))
    return np.clip(lb.map_to_stimulus(prob.astype(np.float32)), 0, 1)


def predict_files(forward: Forward, paths: Sequence[str | Path], canvas: tuple[int, int], task: str, *,
                  write: Callable[[Path, np.ndarray], None] | None = None, workers: int = 2,
                  ahead: int = 4) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield (path, map at the image's size) in input order; ``write(path, map)``, if given, runs on the
    pool before the map is yielded. Up to ``ahead`` images are decoded in advance by ``workers`` threads."""
    paths = [Path(p) for p in paths]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        pending = [pool.submit(_prepare, p, canvas) for p in paths[:ahead]]
        posts: list[tuple[Path, object]] = []
        for k, path in enumerate(paths):
            lb, x = pending.pop(0).result()
            if k + ahead < len(paths):
                pending.append(pool.submit(_prepare, paths[k + ahead], canvas))
            out = forward(x)[0, 0]

            def post(out=out, lb=lb, path=path) -> np.ndarray:
                m = to_stimulus(out, lb, task)
                if write is not None:
                    write(path, m)
                return m
            posts.append((path, pool.submit(post)))
            while len(posts) > ahead:
                p, fut = posts.pop(0)
                yield p, fut.result()
        for p, fut in posts:
            yield p, fut.result()

"""Benchmark: default-model inference, PyTorch vs ONNX Runtime (fp32, int8), and ``saliency predict`` end to end.

1. Model alone: the default fixation model (``effnet_lite0``, weights irrelevant to speed) at 288×384, batch 1,
   ``--threads`` intra-op threads: median images/s of the PyTorch eval forward (baseline, same run), of ONNX
   Runtime fp32 and of ONNX Runtime with int8 weights. Target (issue 16): ≥ 30 images/s.
2. int8 fidelity (with ``--checkpoint`` and ``--shards``): NSS of the first ``--n-images`` stimuli predicted by
   the checkpoint through ONNX fp32 and int8 (``saliency.metrics.evaluate``); the loss must be ≤ 0.01.
3. End to end (with ``--checkpoint``): the ``saliency predict`` pipeline (decode, letterbox, forward, resize
   back, write .npy) on the same images, images/s per backend, beside the model-alone rate at that canvas.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_inference.py [--threads 2]
        [--checkpoint runs/osie/train/checkpoints/best.pt --shards outputs/osie/shards --n-images 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 30.0


def rate(fn, x: np.ndarray, repeats: int) -> float:
    for _ in range(3):
        fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def main() -> None:
    from saliency.models import DEFAULT_FIXATION_MODEL, build_model
    from saliency.training.inference import make_forward

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--shards", type=Path, default=None)
    ap.add_argument("--n-images", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"load average {os.getloadavg()[0]:.2f} (shared machine); {a.threads} threads")

    model = build_model(DEFAULT_FIXATION_MODEL, pretrained=False).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 288, 384)).astype(np.float32)
    rates = {b: rate(make_forward(model, b, canvas=(288, 384), threads=a.threads), x, a.repeats)
             for b in ("torch", "onnx", "onnx-int8")}
    torch.set_num_threads(1)    # PyTorch's OpenMP threads spin; on a loaded machine one thread can be faster
    rates["torch 1 thread"] = rate(make_forward(model, "torch"), x, a.repeats)
    rates["onnx 1 thread"] = rate(make_forward(model, "onnx", canvas=(288, 384), threads=1), x, a.repeats)
    torch.set_num_threads(a.threads)
    print(f"{DEFAULT_FIXATION_MODEL} 288×384 batch 1, model alone (median of {a.repeats}):")
    for b, r in rates.items():
        verdict = "met" if r >= TARGET else f"MISSED by {TARGET / r:.2f}×"
        print(f"  {b:14s} {r:7.1f} images/s  ({r / rates['torch']:.2f}× PyTorch; target ≥ {TARGET:.0f}: {verdict})")

    if a.checkpoint is None:
        return
    from saliency.training import load_model
    from saliency.training.inference import predict_files

    ck = load_model(a.checkpoint)
    canvas = tuple(ck.canvas)
    paths, ss = [], None
    if a.shards is not None:
        from saliency.shards import open_shards

        ss = open_shards(a.shards)
        names = ss.stimuli[: a.n_images]
        paths = [ss.image_path(s) for s in names]
    forwards = {b: make_forward(ck, b, threads=a.threads) for b in ("torch", "onnx", "onnx-int8")}
    xc = np.random.default_rng(0).standard_normal((1, 3, *canvas)).astype(np.float32)
    print(f"checkpoint {a.checkpoint} ({ck.config.name if hasattr(ck, 'config') else '?'}), canvas "
          f"{canvas[0]}×{canvas[1]}, {len(paths)} OSIE images, load average {os.getloadavg()[0]:.2f}")
    preds: dict[str, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        def write(p: Path, m: np.ndarray) -> None:
            np.save(Path(tmp) / f"{p.stem}.npy", m)

        for b, fwd in forwards.items():
            alone = rate(fwd, xc, a.repeats)
            t0 = time.perf_counter()
            out = dict(predict_files(fwd, paths, canvas, "fixation", write=write, workers=2))
            e2e = len(paths) / (time.perf_counter() - t0)
            preds[b] = {s: out[p] for s, p in zip(names, paths, strict=True)}
            print(f"  {b:10s} model alone {alone:7.1f} images/s; `saliency predict` pipeline {e2e:6.1f} images/s "
                  f"({e2e / alone:.0%} of the model's rate)")
    if ss is not None:
        from saliency.metrics import evaluate

        nss = {b: evaluate(p, ss, metrics=["nss"], stimuli=names).summary["nss"] for b, p in preds.items()}
        loss = nss["onnx"] - nss["onnx-int8"]
        print(f"  NSS: torch {nss['torch']:.4f}, onnx fp32 {nss['onnx']:.4f}, onnx int8 {nss['onnx-int8']:.4f}; "
              f"int8 loss {loss:.4f} (limit 0.01: {'ok' if loss <= 0.01 else 'TOO LARGE'})")


if __name__ == "__main__":
    main()

"""Inference speed of the model zoo (run: ``python benchmarks/bench_models.py [--models a b] [--repeats 5]``).

For every selected zoo model at ``--height``×``--width`` (default 288×384): parameters, GMACs (batch 1,
``saliency.models.count_macs``), and per batch size (``--batches``, default 1 and 8) the median latency of
one eval forward pass under ``torch.inference_mode`` (ms per batch) and the throughput (images/s).

CPU: ours = the models' default channels-last convolution path; baseline = the same model with
``use_channels_last(False)`` (standard contiguous layout), measured in the same run; the ratio is
baseline time / ours. Says whether the default model (``effnet_lite0``) meets the > 10 images/s target.

GPU (only when ``torch.cuda.is_available()``): fp32 (baseline) vs AMP bfloat16 vs AMP bfloat16 +
``torch.compile``, same batch sizes, CUDA-synchronised timing.

Weights are not loaded (``pretrained=False``): speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from saliency.models import DEFAULT_FIXATION_MODEL, MODELS, build_model, count_macs, count_parameters

TARGET_IMAGES_PER_S = 10.0


def median_time(fn, repeats: int, warmup: int = 2, sync=None) -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_cpu(names: list[str], batches: list[int], h: int, w: int, repeats: int, layout: bool) -> dict:
    print(f"## CPU, {torch.get_num_threads()} threads, {h}x{w}, median of {repeats} eval forwards")
    head = f"{'model':28s} {'params M':>8s} {'GMACs':>6s}"
    for b in batches:
        head += f" | b={b}: {'ms':>7s} {'img/s':>6s}" + (f" {'contig ms':>9s} {'ratio':>5s}" if layout else "")
    print(head)
    results = {}
    for name in names:
        model = build_model(name, pretrained=False).eval()
        row = f"{name:28s} {count_parameters(model) / 1e6:8.2f} {count_macs(model, h, w) / 1e9:6.2f}"
        results[name] = {}
        for b in batches:
            x = torch.randn(b, 3, h, w, generator=torch.Generator().manual_seed(0))
            with torch.inference_mode():
                model.use_channels_last(True)
                ours = median_time(lambda m=model, x=x: m(x), repeats)
                row += f" | b={b}: {ours * 1e3:7.1f} {b / ours:6.1f}"
                if layout:
                    model.use_channels_last(False)
                    base = median_time(lambda m=model, x=x: m(x), repeats)
                    model.use_channels_last(True)
                    row += f" {base * 1e3:9.1f} {base / ours:4.2f}x"
            results[name][b] = b / ours
        print(row, flush=True)
    if layout:
        print("ratio = contiguous-layout time (baseline) / channels-last time (ours); > 1: channels-last faster")
    return results


def bench_gpu(names: list[str], batches: list[int], h: int, w: int, repeats: int) -> None:
    dev = torch.device("cuda")
    print(f"## GPU {torch.cuda.get_device_name(dev)}, {h}x{w}, median of {repeats} eval forwards")
    print(f"{'model':28s} {'batch':>5s} {'fp32 ms':>8s} {'bf16 ms':>8s} {'ratio':>6s} {'bf16+compile ms':>15s} "
          f"{'ratio':>6s} {'img/s best':>10s}")
    for name in names:
        model = build_model(name, pretrained=False).eval().to(dev)
        compiled = torch.compile(model)
        for b in batches:
            x = torch.randn(b, 3, h, w, device=dev)
            times = {}
            for label, m, amp in (("fp32", model, False), ("bf16", model, True), ("compile", compiled, True)):
                ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
                with torch.inference_mode(), ctx:
                    times[label] = median_time(lambda m=m, x=x: m(x), repeats, warmup=3, sync=torch.cuda.synchronize)
            best = min(times.values())
            print(f"{name:28s} {b:5d} {times['fp32'] * 1e3:8.2f} {times['bf16'] * 1e3:8.2f} "
                  f"{times['fp32'] / times['bf16']:5.2f}x {times['compile'] * 1e3:15.2f} "
                  f"{times['fp32'] / times['compile']:5.2f}x {b / best:10.1f}", flush=True)
    print("ratio = fp32 time (baseline) / bf16 time (ours); > 1: faster than fp32")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=None, help="zoo names (default: all)")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--height", type=int, default=288)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--no-layout", action="store_true", help="skip the contiguous-layout baseline on CPU")
    ap.add_argument("--no-gpu", action="store_true", help="CPU only even when CUDA is available")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.models or MODELS.names()
    for n in names:
        MODELS.get(n)  # fail early on a typo, listing the known names
    cpu = bench_cpu(names, args.batches, args.height, args.width, args.repeats, not args.no_layout)
    if DEFAULT_FIXATION_MODEL in cpu:
        for b, ips in cpu[DEFAULT_FIXATION_MODEL].items():
            verdict = "meets" if ips > TARGET_IMAGES_PER_S else "does NOT meet"
            print(f"default model {DEFAULT_FIXATION_MODEL}, batch {b}: {ips:.1f} img/s on CPU — {verdict} "
                  f"the > {TARGET_IMAGES_PER_S:g} img/s target")
    if torch.cuda.is_available() and not args.no_gpu:
        bench_gpu(names, args.batches, args.height, args.width, args.repeats)
    else:
        print("GPU: not measured (torch.cuda.is_available() is False)" if not args.no_gpu else "GPU: skipped")


if __name__ == "__main__":
    main()

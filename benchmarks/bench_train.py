"""Training throughput (run: ``python benchmarks/bench_train.py [--models effnet_lite0 mobilenetv2] [--steps 5]``).

One training step = forward + the default objective (KL − 0.1·CC − 0.1·NSS) + backward + gradient clipping
+ AdamW step, exactly :func:`saliency.training.loop.train_step` as the training loop runs it, on random
images and random target densities/fixations at ``--height × --width`` (default 288×384), batch ``--batch``.
Images/s = batch / median step time over ``--steps`` steps after ``--warmup`` steps.

Variants, each printed with its ratio against the baseline measured in the same run:

CPU   ``fp32 contiguous`` (baseline: every tensor and weight in the standard NCHW layout)
      ``fp32 channels-last convs`` (SaliencyNet's default: backbone, decoder and head convolutions in
      channels-last; attention blocks get contiguous tensors)
      ``fp32 channels-last all`` (also ``model.to(channels_last)`` and channels-last input, what
      ``train.channels_last = "on"`` does)
GPU   (only when ``torch.cuda.is_available()``) ``fp32`` (baseline), ``bf16 autocast``,
      ``bf16 autocast + torch.compile`` (compile time excluded: it happens during the warm-up steps;
      channels-last everywhere, as ``train.channels_last = "auto"`` on a GPU).

Pretrained weights do not change the speed, so models are built with ``pretrained=False`` (no weight file
needed).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from saliency.models import build_model, count_parameters
from saliency.training.config import RunConfig
from saliency.training.loop import make_optimizer, train_step
from saliency.training.losses import DEFAULT_FIXATION_WEIGHTS, WeightedObjective


def batch_targets(batch: int, h: int, w: int, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    dens = torch.rand(batch, 1, h, w, generator=g) ** 4
    dens = dens / dens.sum(dim=(2, 3), keepdim=True)
    fix = (torch.rand(batch, 1, h, w, generator=g) > 0.9995).float()
    return {"density": dens.to(device), "fixation_map": fix.to(device)}


def measure(make_model: Callable[[], torch.nn.Module], *, device: torch.device, batch: int, h: int, w: int,
            steps: int, warmup: int, amp_dtype: torch.dtype | None = None, channels_last_all: bool = False,
            compile_model: bool = False) -> float:
    """Median seconds per training step."""
    torch.manual_seed(0)
    model = make_model().to(device).train()
    if channels_last_all:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, RunConfig())
    objective = WeightedObjective(DEFAULT_FIXATION_WEIGHTS)
    step_model = torch.compile(model) if compile_model else model
    x = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(1)).to(device)
    if channels_last_all:
        x = x.contiguous(memory_format=torch.channels_last)
    targets = batch_targets(batch, h, w, device)
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        train_step(step_model, optimizer, objective, x, targets, amp_dtype=amp_dtype, grad_clip=1.0,
                   clip_module=model)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_model(name: str, args: argparse.Namespace) -> None:
    h, w, b = args.height, args.width, args.batch

    def cpu_model(convs_cl: bool) -> Callable[[], torch.nn.Module]:
        return lambda: build_model(name, pretrained=False).use_channels_last(convs_cl)

    n_params = count_parameters(build_model(name, pretrained=False))
    print(f"## {name}: {n_params / 1e6:.2f} M parameters; batch {b} at {h}x{w}; median of {args.steps} steps "
          f"after {args.warmup} warm-up")
    cpu = torch.device("cpu")
    variants = [("fp32 contiguous (baseline)", dict(make_model=cpu_model(False))),
                ("fp32 channels-last convs", dict(make_model=cpu_model(True))),
                ("fp32 channels-last all", dict(make_model=cpu_model(True), channels_last_all=True))]
    _report("cpu", variants, device=cpu, args=args)
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        gpu_model = cpu_model(True)
        variants = [("fp32 (baseline)", dict(make_model=gpu_model, channels_last_all=True)),
                    ("bf16 autocast", dict(make_model=gpu_model, channels_last_all=True, amp_dtype=torch.bfloat16)),
                    ("bf16 autocast + compile", dict(make_model=gpu_model, channels_last_all=True,
                                                      amp_dtype=torch.bfloat16, compile_model=True))]
        _report(f"cuda ({torch.cuda.get_device_name()})", variants, device=gpu, args=args)
    else:
        print("   (no GPU: bf16 autocast and torch.compile variants not run)")


def _report(where: str, variants: list, *, device: torch.device, args: argparse.Namespace) -> None:
    base = None
    for label, kw in variants:
        t = measure(device=device, batch=args.batch, h=args.height, w=args.width, steps=args.steps,
                    warmup=args.warmup, **kw)
        base = base or t
        print(f"   {where:5s} {label:28s} {t * 1e3:9.1f} ms/step  {args.batch / t:7.2f} images/s  "
              f"x{base / t:5.2f} vs baseline", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["effnet_lite0"], help="zoo names (saliency.models.MODELS)")
    ap.add_argument("--height", type=int, default=288)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, cuda available: "
          f"{torch.cuda.is_available()}")
    for name in args.models:
        run_model(name, args)


if __name__ == "__main__":
    main()

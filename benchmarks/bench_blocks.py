"""Benchmark of the attention blocks (run: ``python benchmarks/bench_blocks.py [--size 60 80] [--channels 64]``).

Prints, each as a ratio against a baseline measured in the same run (median of ``--repeats`` eval
forwards, one CPU thread):

1. fused ``scaled_dot_product_attention`` vs the explicit softmax path that records the attention map
   (baseline), for every self-attention block;
2. windowed / axial MHSA vs global MHSA (baseline) at the same size;
3. coarse-to-fine inference vs the full fine pass (baseline) on a real OSIE stimulus with a centre-surround
   contrast model (``--image``; skipped when the stimulus is missing): MACs and time saved, CC, KL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from saliency.models.blocks import BLOCKS
from saliency.models.coarse_to_fine import CoarseToFine


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def set_record(block: torch.nn.Module, value: bool) -> None:
    for m in block.modules():
        if hasattr(m, "record_attention"):
            m.record_attention = value


def bench_fused(channels: int, h: int, w: int, repeats: int) -> None:
    print(f"## fused SDPA vs explicit softmax + map (baseline), 1x{channels}x{h}x{w}")
    x = torch.randn(1, channels, h, w)
    for name, kw in [("non_local", {}), ("sagan", {}), ("mhsa", {}), ("mhsa", {"mode": "window"}),
                     ("mhsa", {"mode": "axial"}), ("swin", {}), ("axial", {})]:
        block = BLOCKS.get(name)(channels, **kw).eval()
        with torch.no_grad():
            set_record(block, True)
            explicit = median_time(lambda b=block: b(x), repeats)
            set_record(block, False)
            fused = median_time(lambda b=block: b(x), repeats)
        label = name + (f"[{kw['mode']}]" if kw else "")
        print(f"{label:18s} explicit {explicit * 1e3:8.1f} ms  fused {fused * 1e3:8.1f} ms  "
              f"speed-up {explicit / fused:5.2f}x")


def bench_modes(channels: int, h: int, w: int, repeats: int) -> None:
    print(f"## MHSA modes vs global MHSA (baseline), fused path, 1x{channels}x{h}x{w}")
    x = torch.randn(1, channels, h, w)
    times = {}
    for mode in ("global", "window", "axial"):
        block = BLOCKS.get("mhsa")(channels, mode=mode, record_attention=False).eval()
        with torch.no_grad():
            times[mode] = median_time(lambda b=block: b(x), repeats)
    for mode, t in times.items():
        print(f"mhsa[{mode:6s}] {t * 1e3:8.1f} ms  speed-up vs global {times['global'] / t:5.2f}x")


def _blur(x: torch.Tensor, s: float) -> torch.Tensor:
    r = int(3 * s)
    k = torch.exp(-torch.arange(-r, r + 1.0) ** 2 / (2 * s * s))
    k = (k / k.sum()).view(1, 1, 1, -1).expand(x.shape[1], 1, 1, -1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k, groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=x.shape[1])


def contrast_model(t: torch.Tensor) -> torch.Tensor:
    """Centre-surround colour contrast (DoG σ 2/12 px, blurred σ 4), as a log-density over the input."""
    b, _, h, w = t.shape
    c = _blur((_blur(t, 2.0) - _blur(t, 12.0)).square().sum(1, keepdim=True), 4.0)
    return torch.log(c + 1e-6).reshape(b, -1).log_softmax(-1).reshape(b, 1, h, w)


def bench_coarse_to_fine(image: Path) -> None:
    if not image.exists():
        print(f"## coarse-to-fine: skipped ({image} missing)")
        return
    import numpy as np
    from PIL import Image

    x = torch.from_numpy(np.asarray(Image.open(image).convert("RGB"), dtype=np.float32) / 255)
    x = x.permute(2, 0, 1)[None]
    print(f"## coarse-to-fine vs full fine pass (baseline), {image.name} {tuple(x.shape[-2:])}, "
          "contrast model, scale 0.25, patch 64, context 24")
    for k in (4, 8, 16, 32):
        c2f = CoarseToFine(contrast_model, contrast_model, coarse_scale=0.25, patch_px=64, top_k=k,
                           context_px=24, log_density=True)
        r = c2f.run(x).report
        print(f"top_k={k:2d} area {r.refined_area_fraction:6.1%}  MACs {r.coarse_macs / 1e6:.1f}M + "
              f"{r.fine_patch_macs / 1e6:.1f}M vs {r.full_fine_macs / 1e6:.1f}M (saved {r.macs_saved_fraction:.1%})"
              f"  time saved {r.time_saved_fraction:.1%}  CC {r.cc:.3f}  KL {r.kl:.4f}")


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    shared = Path(os.environ.get("SALIENCY_SHARED", root.parent / "shared"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--size", type=int, nargs=2, default=(60, 80), metavar=("H", "W"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--image", type=Path, default=shared / "datasets" / "osie" / "stimuli" / "1001.jpg")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    bench_fused(args.channels, *args.size, args.repeats)
    bench_modes(args.channels, *args.size, args.repeats)
    bench_coarse_to_fine(args.image)


if __name__ == "__main__":
    main()

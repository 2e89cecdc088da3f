"""Benchmark: ground-truth map building and shard reading on all 700 OSIE stimuli (800×600, σ = 24 px).

Ours: ``saliency.maps`` (sparse separable Gaussian as small float32 matrix products, one process).
Baseline (same run, same data): the straightforward float64 route, a dense count map filtered with
``scipy.ndimage.gaussian_filter`` (same σ, mode, truncation), one process. Prints maps per second of
both, the ratio, and the max abs difference relative to each map's maximum; then builds the shard set
(or uses ``--shards``) and measures read throughput through ``ShardSet`` (streaming and random order).

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_maps.py [--mode constant] [--limit 700]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from scipy.ndimage import gaussian_filter

    from saliency.maps import (
        MapOptions,
        SeparableGaussian,
        fixation_count_map,
        single_threaded_blas,
        stimulus_map,
    )
    from saliency.readers.nus import read_nus
    from saliency.shards import build_shards, open_shards

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--osie", type=Path, default=ROOT.parent / "shared" / "datasets" / "osie")
    ap.add_argument("--sigma", type=float, default=24.0)
    ap.add_argument("--mode", default="constant", choices=["constant", "reflect"])
    ap.add_argument("--limit", type=int, default=None, help="only the first N stimuli")
    ap.add_argument("--shards", type=Path, default=None, help="read an existing shard set instead of building")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_maps" / "shards")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    table = read_nus(args.osie)
    names = table.stimuli()[: args.limit]
    rows = {k: g for k, g in table.data.groupby("stimulus")}
    opts = MapOptions(sigma=args.sigma, mode=args.mode)

    # ---- ours --------------------------------------------------------------------------------------
    ours = {}
    t0 = time.perf_counter()
    blurs: dict[tuple[int, int], SeparableGaussian] = {}
    with single_threaded_blas():
        for name in names:
            info = table.meta.stimuli[name]
            key = (info.height_px, info.width_px)
            if key not in blurs:
                blurs[key] = SeparableGaussian(*key, args.sigma, args.mode)
            ours[name] = stimulus_map(rows[name], blurs[key], opts)
    t_ours = time.perf_counter() - t0

    # ---- baseline ----------------------------------------------------------------------------------
    worst = 0.0
    t_base = 0.0
    for name in names:
        info = table.meta.stimuli[name]
        g = rows[name]
        t0 = time.perf_counter()
        ref = gaussian_filter(fixation_count_map(g["x"].to_numpy(), g["y"].to_numpy(), info.height_px,
                                                 info.width_px), args.sigma, mode=args.mode)
        ref /= ref.sum()
        t_base += time.perf_counter() - t0
        worst = max(worst, float(np.abs(ours[name] - ref).max() / ref.max()))

    n = len(names)
    res = {"maps": n, "size": "800x600", "sigma_px": args.sigma, "mode": args.mode,
           "ours_maps_per_s": n / t_ours, "baseline_maps_per_s": n / t_base, "ratio": t_base / t_ours,
           "max_abs_diff_rel_to_max": worst}

    # ---- shards: build and read --------------------------------------------------------------------
    root = args.shards
    if root is None:

        sub = table if args.limit is None else _subset(table, names)
        shutil.rmtree(args.out, ignore_errors=True)
        t0 = time.perf_counter()
        build_shards(sub, args.out, opts, dtype=args.dtype)
        res["build_maps_per_s"] = n / (time.perf_counter() - t0)
        root = args.out
    ss = open_shards(root)
    t0 = time.perf_counter()
    k = sum(1 for _ in ss.iter_ground_truth())
    res["read_stream_maps_per_s"] = k / (time.perf_counter() - t0)
    fast = open_shards(root, verify=False)
    t0 = time.perf_counter()
    for s in fast.stimuli:
        fast.density(s)
    res["read_unverified_maps_per_s"] = len(fast) / (time.perf_counter() - t0)
    order = np.random.default_rng(0).permutation(ss.stimuli).tolist()
    t0 = time.perf_counter()
    for s in order:
        ss.density(s)
    res["read_random_maps_per_s"] = len(order) / (time.perf_counter() - t0)

    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"OSIE {n} maps 800×600, σ = {args.sigma} px, mode {args.mode}")
    print(f"  ours (sparse separable float32)  : {res['ours_maps_per_s']:8.1f} maps/s")
    print(f"  baseline (float64 gaussian_filter): {res['baseline_maps_per_s']:8.1f} maps/s")
    print(f"  ratio                            : {res['ratio']:8.1f}×")
    print(f"  max |ours − baseline| / max      : {worst:.2e}")
    if "build_maps_per_s" in res:
        print(f"  shard build (maps+hash+write)    : {res['build_maps_per_s']:8.1f} maps/s ({args.dtype})")
    print(f"  ShardSet read, streaming         : {res['read_stream_maps_per_s']:8.1f} maps/s (verified, sum-1)")
    print(f"  ShardSet read, random order      : {res['read_random_maps_per_s']:8.1f} maps/s")
    print(f"  ShardSet density, verify=False   : {res['read_unverified_maps_per_s']:8.1f} maps/s")


def _subset(table, names):
    from saliency.fixations.table import DatasetMeta, FixationTable

    meta = DatasetMeta(table.meta.name, {k: table.meta.stimuli[k] for k in names}, table.meta.geometry,
                       table.meta.pixels_per_degree, table.meta.coordinate_origin, table.meta.source_format,
                       table.meta.notes)
    return FixationTable.from_frame(table.data[table.data["stimulus"].isin(names)], meta)


if __name__ == "__main__":
    main()

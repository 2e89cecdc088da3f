"""Benchmark: ``saliency baselines`` whole command on a shard set (issue 16 target: all 700 OSIE images ≤ 30 s
on the 2 cores; the issue measured 563 s wall / 1,115 s CPU for the code before it, on the idle machine).

Prints wall and CPU time (children's user + sys), the load average, seconds per image and how far the 30 s
target is missed. ``--ref-tree DIR`` (a checkout of an earlier commit, e.g. ``git worktree add /tmp/ref
<commit>`` or ``git archive <commit> | tar -x -C /tmp/ref``) also runs that tree's command on the same
images in the same run, prints its times and the ratio, and compares every per-image value and summary
(largest relative difference; AUC values must be identical: same ranks and ties).

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_baselines.py --shards outputs/osie/shards [--workers 2]
        [--limit N] [--ref-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S, BEFORE_WALL_S, BEFORE_CPU_S, OSIE_N = 30.0, 563.0, 1115.0, 700
BASELINES = ("chance", "centre_gaussian", "centre_loo", "gold_standard", "one_human")


def run(tree: Path, shards: Path, workers: int, stimuli_file: str, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of ``saliency baselines`` from source tree ``tree``, writing tables under ``out``."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "saliency", "baselines", "--shards", str(shards), "--workers",
                    str(workers), "--stimuli-file", stimuli_file, "--out", str(out), "--json"], check=True,
                   env=env, cwd=tree, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def compare(ref: Path, ours: Path) -> tuple[float, int]:
    """(largest relative difference of any per-image value or summary number, AUC values that differ)."""
    import numpy as np
    import pandas as pd

    worst, auc_diff = 0.0, 0
    for b in BASELINES:
        pa, pb = pd.read_parquet(ref / f"{b}_per_image.parquet"), pd.read_parquet(ours / f"{b}_per_image.parquet")
        for col in pa.columns[2:]:
            x, y = pa[col].to_numpy(float), pb[col].to_numpy(float)
            same_nan = np.isnan(x) == np.isnan(y)
            m = ~np.isnan(x) & same_nan
            scale = np.maximum(np.abs(x[m]), 1e-12)        # values of exactly 0 compare absolutely
            worst = max(worst, float(np.max(np.abs(x[m] - y[m]) / scale, initial=0.0)),
                        0.0 if same_nan.all() else np.inf)
            if "auc" in col:
                auc_diff += int((x[m] != y[m]).sum())
        sa = json.loads((ref / f"{b}_summary.json").read_text())["summary"]
        sb = json.loads((ours / f"{b}_summary.json").read_text())["summary"]
        for k, v in sa.items():
            if isinstance(v, float) and isinstance(sb.get(k), float):
                worst = max(worst, abs(v - sb[k]) / max(abs(v), 1e-12))
    return worst, auc_diff


def main() -> None:
    from saliency.shards import open_shards

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N stimuli")
    ap.add_argument("--ref-tree", type=Path, default=None, help="source tree of the code to compare with")
    a = ap.parse_args()
    shards = a.shards.resolve()
    names = open_shards(shards).stimuli[: a.limit]
    n = len(names)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, tempfile.NamedTemporaryFile("w", suffix=".txt") as fh:
        fh.write("\n".join(names) + "\n")
        fh.flush()
        wall, cpu = run(ROOT, shards, a.workers, fh.name, Path(tmp) / "ours")
        ref = run(a.ref_tree.resolve(), shards, a.workers, fh.name, Path(tmp) / "ref") if a.ref_tree else None
        diff = compare(Path(tmp) / "ref", Path(tmp) / "ours") if a.ref_tree else None
    target = TARGET_S * n / OSIE_N
    print(f"`saliency baselines --workers {a.workers}` on {n} images of {a.shards}; load average {load0:.1f} → "
          f"{os.getloadavg()[0]:.1f} (shared machine)")
    print(f"  ours: {wall:.1f} s wall, {cpu:.1f} s CPU ({1000 * cpu / n:.0f} ms CPU per image)")
    if ref is not None:
        print(f"  {a.ref_tree}: {ref[0]:.1f} s wall, {ref[1]:.1f} s CPU → ours {ref[0] / wall:.2f}× faster wall, "
              f"{ref[1] / cpu:.2f}× less CPU (same run)")
        print(f"  values: largest relative difference {diff[0]:.2e}; AUC values that differ: {diff[1]}")
    print(f"  before (issue 16, idle machine, 700 images): {BEFORE_WALL_S:.0f} s wall, {BEFORE_CPU_S:.0f} s CPU "
          f"→ {BEFORE_CPU_S / OSIE_N * n / cpu:.1f}× less CPU now")
    verdict = "met" if wall <= target else f"MISSED by {wall / target:.1f}× wall, {cpu / 2 / target:.1f}× in CPU / 2 cores"
    print(f"  target ≤ {target:.1f} s ({TARGET_S:.0f} s for 700 images): {verdict}")


if __name__ == "__main__":
    main()

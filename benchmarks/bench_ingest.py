"""Benchmark: reading MIT1003 (FixaTons layout, 15,045 files) and OSIE (fixations.mat) into a table.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_ingest.py [--repeat 3] [--workers 8]

Baselines, measured in the same run on the same files:

* fixatons — the FixaTons toolbox's own way (``FixaTons.get.scanpath`` reads one file with
  ``np.loadtxt``), looped over every stimulus and observer into one pandas frame; this is what a user
  would write without this library. Ours: :func:`saliency.readers.fixatons.read_fixatons` (threads,
  one vectorised parse per file, full validation, accounting and stimulus sizes).
* nus — ``scipy.io.loadmat`` + a per-subject loop building the same frame with no checks (a lower
  bound), vs :func:`saliency.readers.nus.read_nus`.

Prints the best-of-``repeat`` wall and CPU times and the ratio baseline / ours (> 1: ours is faster).
The machine is shared: compare CPU seconds when the load is high.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saliency.readers.fixatons import read_fixatons  # noqa: E402
from saliency.readers.nus import read_nus  # noqa: E402


def fixatons_baseline(root: Path) -> pd.DataFrame:
    parts = []
    for stim in sorted(os.listdir(root / "SCANPATHS")):
        for obs in sorted(os.listdir(root / "SCANPATHS" / stim)):
            a = np.loadtxt(root / "SCANPATHS" / stim / obs, ndmin=2)
            parts.append(pd.DataFrame({"stimulus": stim, "observer": obs, "x": a[:, 0] - 1, "y": a[:, 1] - 1,
                                       "t_start_ms": a[:, 2] * 1000, "duration_ms": (a[:, 3] - a[:, 2]) * 1000}))
    return pd.concat(parts, ignore_index=True)


def nus_baseline(root: Path) -> pd.DataFrame:
    import scipy.io

    m = scipy.io.loadmat(root / "fixations.mat", squeeze_me=True, struct_as_record=False)
    parts = []
    for e in m["fixations"]:
        for j, s in enumerate(np.atleast_1d(e.subjects), start=1):
            parts.append(pd.DataFrame({"stimulus": e.img, "observer": f"s{j:02d}",
                                       "x": np.atleast_1d(s.fix_x) - 1.0, "y": np.atleast_1d(s.fix_y) - 1.0,
                                       "duration_ms": np.atleast_1d(s.fix_duration).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def best(fn, repeat: int) -> tuple[float, float, int]:
    walls, cpus, n = [], [], 0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        n = len(fn())
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("SALIENCY_SHARED", ROOT.parent / "shared")))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    mit, osie = a.shared / "datasets" / "mit1003", a.shared / "datasets" / "osie"
    rows = [
        ("fixatons mit1003", best(lambda: fixatons_baseline(mit), a.repeat),
         best(lambda: read_fixatons(mit, workers=a.workers).data, a.repeat), "FixaTons np.loadtxt loop"),
        ("nus osie", best(lambda: nus_baseline(osie), a.repeat), best(lambda: read_nus(osie).data, a.repeat),
         "loadmat + loop, no checks"),
    ]
    print(f"{'reader':18s} {'rows':>8s} {'ours wall/cpu s':>16s} {'base wall/cpu s':>16s} {'ratio cpu':>9s}  baseline")
    for name, (bw, bc, bn), (ow, oc, on), base in rows:
        print(f"{name:18s} {on:8d} {ow:7.2f}/{oc:<8.2f} {bw:7.2f}/{bc:<8.2f} {bc / oc:9.2f}  {base} ({bn} rows)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

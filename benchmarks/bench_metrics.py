"""Benchmark: every pysaliency-convention metric on all 700 OSIE images, this implementation vs pysaliency.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_metrics.py [--n-images 700]
        [--ref-python .refvenv/bin/python] [--work outputs/bench_metrics]

Builds one set of maps (benchmarks/osie_maps.py: σ = 24 px ground truth, a half-observer σ = 30 px
prediction, a centre-Gaussian IG baseline) as float32 .npy files, scores them with saliency.metrics
(AUC-Judd, sAUC, NSS, IG per fixation; CC, KL, SIM per image) and with pysaliency itself in a subprocess
of the reference venv (``$SALIENCY_REF_PYTHON`` or --ref-python), then prints both times (metric
time includes reading the maps out of the same memory maps (page cache warm; pysaliency converts each map to
float64 for every metric, this implementation reads each map once), so both totals and totals without the
reads are printed), the ratios and the largest absolute difference between the two implementations' values.
Ours runs through ``saliency.metrics.evaluate`` (the code users call), once with one thread and once with
``--workers`` threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import osie_maps  # noqa: E402

from saliency.metrics import evaluate  # noqa: E402

METRICS = ["auc_judd", "sauc", "nss", "ig", "cc", "kl", "sim"]


class _GT:
    __slots__ = ("density", "fixations", "height", "stimulus", "width")


class MemmapShards:
    """The maps on disk behind the ShardSet interface ``evaluate`` reads (stimuli, manifest, fixations,
    iter_ground_truth). Ground truth and predictions are read from the memory maps when asked for (the time
    spent copying them out is accumulated in ``read_s``); per-image fixation tables are split once up front."""

    def __init__(self, d: Path) -> None:
        import pandas as pd

        self.preds = np.load(d / "preds.npy", mmap_mode="r")
        self.gt = np.load(d / "gt.npy", mmap_mode="r")
        fx = np.load(d / "fixations.npz")
        n_img, h, w = self.preds.shape
        self.stimuli = [f"{k:04d}" for k in range(n_img)]
        self.h, self.w = h, w
        self.manifest = pd.DataFrame({"stimulus": self.stimuli, "height": h, "width": w})
        n = fx["n"].astype(int)
        frame = pd.DataFrame({"stimulus": np.asarray(self.stimuli)[n], "x": fx["x"], "y": fx["y"]})
        self.fixations = SimpleNamespace(data=frame)
        self.order = np.argsort(n, kind="stable")
        self.bounds = np.searchsorted(n[self.order], np.arange(n_img + 1))
        self._frames = {s: frame.iloc[self.order[self.bounds[k]:self.bounds[k + 1]]].reset_index(drop=True)
                        for k, s in enumerate(self.stimuli)}
        self.read_s = 0.0

    def _read(self, arr: np.ndarray, k: int) -> np.ndarray:
        t = time.perf_counter()
        a = np.array(arr[k])                      # float32 as stored, copied out of the memory map
        self.read_s += time.perf_counter() - t
        return a

    def iter_ground_truth(self, names):
        for s in names:
            g = _GT()
            k = int(s)
            g.stimulus, g.height, g.width, g.fixations = s, self.h, self.w, self._frames[s]
            g.density = self._read(self.gt, k)
            yield g

    def predictions(self) -> Mapping[str, np.ndarray]:
        shards = self

        class Preds(Mapping):
            def __getitem__(self, s):
                return shards._read(shards.preds, int(s))

            def __iter__(self):
                return iter(shards.stimuli)

            def __len__(self):
                return len(shards.stimuli)

        return Preds()


def ours(d: Path, workers: int) -> tuple[dict[str, np.ndarray], float, float, float]:
    """Score with ``saliency.metrics.evaluate`` (pysaliency convention); returns values in pysaliency's order
    (per fixation for auc/sauc/nss/ig, per image for cc/kl/sim), wall seconds, seconds spent reading maps and
    CPU seconds of the process (all threads)."""
    shards = MemmapShards(d)
    base = np.load(d / "baseline.npy")
    t, c = time.perf_counter(), time.process_time()
    res = evaluate(shards.predictions(), shards, metrics=METRICS, baseline=lambda gt: base, workers=workers,
                   keep_per_fixation=True)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    pf = res.per_fixation
    vals: dict[str, np.ndarray] = {}
    for ours_name, key in (("auc_judd", "auc"), ("sauc", "sauc"), ("nss", "nss"), ("ig", "ig")):
        v = np.empty(shards.order.size)
        v[shards.order] = pf[ours_name].to_numpy()      # per_fixation rows: images in order, fixations in order
        vals[key] = v
    for k in ("cc", "kl", "sim"):
        vals[k] = res.per_image[k].to_numpy()
    return vals, wall, shards.read_s, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=700)
    ap.add_argument("--ref-python", default=os.environ.get("SALIENCY_REF_PYTHON", str(ROOT / ".refvenv/bin/python")))
    ap.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_metrics")
    ap.add_argument("--osie", type=Path, default=ROOT.parent / "shared" / "datasets" / "osie")
    ap.add_argument("--reuse", action="store_true", help="reuse maps already built under --work")
    ap.add_argument("--workers", type=int, default=2, help="threads of the second run of ours (first: 1)")
    a = ap.parse_args()
    ref_python = a.ref_python
    t = time.perf_counter()
    if not (a.reuse and (a.work / "fixations.npz").exists()):
        osie_maps.build(a.osie, a.work, a.n_images)
        print(f"built maps for {a.n_images} OSIE images in {time.perf_counter() - t:.1f} s under {a.work}")
    load0 = f"{os.getloadavg()[0]:.2f}"
    runs = {w: ours(a.work, w) for w in sorted({1, a.workers})}
    subprocess.run([ref_python, str(ROOT / "benchmarks" / "pysaliency_reference.py"), str(a.work),
                    str(a.work / "ref.json")], check=True)
    ref = json.loads((a.work / "ref.json").read_text())
    tot_r, read_r = sum(ref["seconds"].values()), ref["read_seconds"]
    print(f"pysaliency {ref['version']}: " + ", ".join(f"{k} {v:.2f} s" for k, v in ref["seconds"].items())
          + f"; total {tot_r:.2f} s, of which {read_r:.2f} s reading maps (memmap → float64, once per metric)")
    worst = 0.0
    for k in runs[1][0]:
        r = np.asarray(ref["values"][k])
        diff = max(float(np.max(np.abs(r - vals[k]))) for vals, *_ in runs.values())
        worst = max(worst, diff)
        print(f"  {k:5s} max |ours - pysaliency| = {diff:.2e}")
    cpu_r = sum(ref["cpu_seconds"].values())
    print(f"pysaliency CPU time {cpu_r:.2f} s; load average before the runs {load0}, after {os.getloadavg()[0]:.2f}")
    for w, (_, wall, read, cpu) in runs.items():
        print(f"ours, {w} thread(s): {wall:.2f} s wall, of which {read:.2f} s reading maps (memmap → float32 copy, "
              f"once per map), {cpu:.2f} s CPU; {tot_r / wall:.1f}x faster in total, "
              f"{(tot_r - read_r) / (wall - read):.1f}x without the reads, {cpu_r / cpu:.1f}x in CPU time")
    print(f"images {ref['n_images']}, fixations {ref['n_fixations']}; largest difference {worst:.2e}")


if __name__ == "__main__":
    main()

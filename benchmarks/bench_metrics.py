"""Benchmark: every pysaliency-convention metric on all 700 OSIE images, this implementation vs pysaliency.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_metrics.py [--n-images 700]
        [--ref-python /work/main/.refvenv/bin/python] [--work outputs/bench_metrics]

Builds one set of maps (benchmarks/osie_maps.py: σ = 24 px ground truth, a half-observer σ = 30 px
prediction, a centre-Gaussian IG baseline) as float32 .npy files, scores them with saliency.metrics
(AUC-Judd, sAUC, NSS, IG per fixation; CC, KL, SIM per image) and with pysaliency itself in a subprocess
of the reference venv (``$SALIENCY_REF_PYTHON`` or --ref-python), then prints both times (metric
computation only, maps already on disk, read through the same memory map), the ratio and the largest
absolute difference between the two implementations' values.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import osie_maps  # noqa: E402

from saliency.metrics import fixation as F  # noqa: E402


def ours(d: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    preds = np.load(d / "preds.npy", mmap_mode="r")
    gt = np.load(d / "gt.npy", mmap_mode="r")
    base = np.load(d / "baseline.npy")
    fx = np.load(d / "fixations.npz")
    x, y, n = fx["x"], fx["y"], fx["n"].astype(int)
    n_img = preds.shape[0]
    order = np.argsort(n, kind="stable")
    bounds = np.searchsorted(n[order], np.arange(n_img + 1))
    xi_all, yi_all = x.astype(np.int64), y.astype(np.int64)
    vals = {k: np.empty(x.size) for k in ("auc", "sauc", "nss", "ig")}
    vals.update({k: np.empty(n_img) for k in ("cc", "kl", "sim")})
    times = dict.fromkeys(("auc", "sauc", "nss", "ig", "cc", "kl", "sim"), 0.0)
    clock = time.perf_counter
    for k in range(n_img):
        sel = order[bounds[k]:bounds[k + 1]]
        p = np.asarray(preds[k])          # float32 as stored; conversions are timed as in pysaliency
        g = np.asarray(gt[k])
        if sel.size:
            t = clock()
            vals["auc"][sel] = F.auc_per_fixation(p, x[sel], y[sel])
            times["auc"] += clock() - t
            t = clock()
            other = n != k            # all fixations of all other images (same size: no rescaling needed)
            vals["sauc"][sel] = F.sauc_per_fixation(p, x[sel], y[sel], xi_all[other], yi_all[other])
            times["sauc"] += clock() - t
            t = clock()
            vals["nss"][sel] = F.nss_per_fixation(p, x[sel], y[sel])
            times["nss"] += clock() - t
            t = clock()
            vals["ig"][sel] = F.information_gain_per_fixation(p, x[sel], y[sel], base)
            times["ig"] += clock() - t
        t = clock()
        vals["cc"][k] = F.cc(p, g)
        times["cc"] += clock() - t
        t = clock()
        vals["kl"][k] = F.kl_divergence(p, g)
        times["kl"] += clock() - t
        t = clock()
        vals["sim"][k] = F.sim(p, g)
        times["sim"] += clock() - t
    return vals, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=700)
    ap.add_argument("--ref-python", default=os.environ.get("SALIENCY_REF_PYTHON", str(ROOT / ".refvenv/bin/python")))
    ap.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_metrics")
    ap.add_argument("--osie", type=Path, default=ROOT.parent / "shared" / "datasets" / "osie")
    ap.add_argument("--reuse", action="store_true", help="reuse maps already built under --work")
    a = ap.parse_args()
    ref_python = a.ref_python if Path(a.ref_python).exists() else "/work/main/.refvenv/bin/python"
    t = time.perf_counter()
    if not (a.reuse and (a.work / "fixations.npz").exists()):
        osie_maps.build(a.osie, a.work, a.n_images)
        print(f"built maps for {a.n_images} OSIE images in {time.perf_counter() - t:.1f} s under {a.work}")
    vals, times = ours(a.work)
    subprocess.run([ref_python, str(ROOT / "benchmarks" / "pysaliency_reference.py"), str(a.work),
                    str(a.work / "ref.json")], check=True)
    ref = json.loads((a.work / "ref.json").read_text())
    print(f"{'metric':8s} {'ours s':>9s} {'pysaliency s':>13s} {'ratio':>8s} {'max |diff|':>11s}")
    worst = 0.0
    for k in times:
        r = np.asarray(ref["values"][k])
        diff = float(np.max(np.abs(r - vals[k])))
        worst = max(worst, diff)
        print(f"{k:8s} {times[k]:9.3f} {ref['seconds'][k]:13.3f} {ref['seconds'][k] / times[k]:8.1f} {diff:11.2e}")
    tot_o, tot_r = sum(times.values()), sum(ref["seconds"].values())
    print(f"{'total':8s} {tot_o:9.3f} {tot_r:13.3f} {tot_r / tot_o:8.1f} {worst:11.2e}")
    print(f"images {ref['n_images']}, fixations {ref['n_fixations']}; ours {tot_o:.2f} s vs pysaliency "
          f"{tot_r:.2f} s: {tot_r / tot_o:.1f}x faster; largest difference {worst:.2e}")


if __name__ == "__main__":
    main()

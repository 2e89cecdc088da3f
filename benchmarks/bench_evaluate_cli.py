"""Benchmark: the `saliency evaluate` WHOLE COMMAND vs pysaliency used the way its documentation shows, on the
same prediction files, ground-truth maps and fixations (the issue-16 framing: "whole command as a user runs
it").

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_evaluate_cli.py \
        --shards outputs/osie/shards [--n-images 700] [--workers 2] [--work outputs/bench_evaluate_cli]

What is timed, both as a subprocess from start to exit (wall, and CPU of the child from ``wait4``):

* ours: ``python -m saliency evaluate WORK/preds --shards WORK/shards --workers N --out WORK/ours`` with the
  metrics AUC-Judd, sAUC, NSS, IG, CC, KL, SIM (pysaliency convention; IG against the scoring centre bias);
* pysaliency (the reference venv, ``benchmarks/pysaliency_user.py``): ``FileStimuli`` of the stimulus JPEGs,
  ``SaliencyMapModelFromDirectory`` for the predictions and for the ground-truth maps (``.npy`` files),
  ``Fixations.create_without_history``, then ``AUCs`` (uniform and shuffled), ``NSSs``, ``CCs``, ``KLDivs``
  (benchmark regularisation), ``SIMs`` and ``information_gains`` against the same centre-bias density.

Both read the same ``.npy`` predictions (float32) and the same ground truth (the shard densities, exported as
float32 ``.npy`` for pysaliency). The per-image values of the two are compared and the largest difference
printed. The stricter kernel-level comparison (pysaliency stripped of hashing and caching, maps in memory)
is ``benchmarks/bench_metrics.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saliency.metrics.centre_bias import fit_scoring_centre  # noqa: E402
from saliency.shards import ShardSet  # noqa: E402

METRICS = ["auc_judd", "sauc", "nss", "ig", "cc", "kl", "sim"]
TARGET = 20.0


def build(shards_dir: Path, work: Path, n_images: int) -> None:
    """Subset shards (first ``n_images`` stimuli, via ``saliency`` itself), prediction and ground-truth files."""
    from scipy.ndimage import gaussian_filter

    full = ShardSet(shards_dir)
    stimuli = sorted(full.stimuli)[:n_images]
    if work.exists():
        shutil.rmtree(work)
    (work / "preds").mkdir(parents=True)
    (work / "gt").mkdir()
    (work / "stimuli.txt").write_text("\n".join(stimuli) + "\n")
    # ground truth: the same shard set; the fixation table is restricted through --stimuli-file at scoring time
    fx = full.fixations.data
    fx = fx[fx["stimulus"].isin(set(stimuli))]
    sizes = {s: (int(h), int(w)) for s, h, w in full.manifest[["stimulus", "height", "width"]].itertuples(index=False)}
    centre = fit_scoring_centre(full.fixations.data, sizes, list(full.stimuli), stimuli)
    paths, shapes = [], {}
    for s in stimuli:
        gt = full.density(s).astype(np.float32)
        np.save(work / "gt" / f"{Path(s).stem}.npy", gt)
        # a prediction that is not the ground truth: more blur plus a centre component
        h, w = gt.shape
        pred = gaussian_filter(gt.astype(np.float64), 12.0) + 0.3 * centre.density(h, w)
        np.save(work / "preds" / f"{Path(s).stem}.npy", (pred / pred.max()).astype(np.float32))
        paths.append(str(full.image_path(s).resolve()))
        shapes[(h, w)] = centre.density(h, w)
    index = {s: k for k, s in enumerate(stimuli)}
    np.savez(work / "fixations.npz", x=fx["x"].to_numpy(np.float64), y=fx["y"].to_numpy(np.float64),
             n=fx["stimulus"].map(index).to_numpy(np.int64))
    (work / "paths.txt").write_text("\n".join(paths) + "\n")
    np.savez(work / "baselines.npz", **{f"{h}x{w}": d for (h, w), d in shapes.items()})
    (work / "shards").symlink_to(shards_dir.resolve())


def timed_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd`` to completion; (wall seconds, CPU seconds of the child and its threads)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:4]} exited {os.waitstatus_to_exitcode(status)}")
    return wall, ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--n-images", type=int, default=700)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_evaluate_cli")
    ap.add_argument("--reuse", action="store_true", help="reuse the files already built under --work")
    ap.add_argument("--ref-python", default=os.environ.get("SALIENCY_REF_PYTHON", str(ROOT / ".refvenv/bin/python")))
    a = ap.parse_args()
    work = a.work.resolve()
    if not (a.reuse and (work / "fixations.npz").exists()):
        t = time.perf_counter()
        build(a.shards, work, a.n_images)
        print(f"built {a.n_images} prediction/ground-truth files in {time.perf_counter() - t:.1f} s under {work}")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    load0 = os.getloadavg()[0]
    ours_cmd = [sys.executable, "-m", "saliency", "evaluate", str(work / "preds"), "--shards", str(work / "shards"),
                "--stimuli-file", str(work / "stimuli.txt"), "--workers", str(a.workers), "--out",
                str(work / "ours")]
    for m in METRICS:
        ours_cmd += ["-m", m]
    ours_wall, ours_cpu = timed_child(ours_cmd, env)
    ref_wall, ref_cpu = timed_child([a.ref_python, str(ROOT / "benchmarks" / "pysaliency_user.py"), str(work),
                                     str(work / "ref.json")], dict(os.environ, OMP_NUM_THREADS="1"))
    load1 = os.getloadavg()[0]
    ref = json.loads((work / "ref.json").read_text())
    per_image = pd.read_parquet(work / "ours" / "per_image.parquet").set_index("stimulus")
    stimuli = (work / "stimuli.txt").read_text().split()
    n = np.load(work / "fixations.npz")["n"]
    worst = {}
    for ours_name, key in (("auc_judd", "auc"), ("sauc", "sauc"), ("nss", "nss"), ("ig", "ig"), ("cc", "cc"),
                           ("kl", "kl"), ("sim", "sim")):
        v = np.asarray(ref["values"][key], dtype=np.float64)
        if v.size == n.size:                     # per fixation → per-image means
            v = np.bincount(n, weights=v, minlength=len(stimuli)) / np.bincount(n, minlength=len(stimuli))
        worst[ours_name] = float(np.max(np.abs(per_image.loc[stimuli, ours_name].to_numpy() - v)))
    print(f"{len(stimuli)} images, {n.size} fixations; metrics {', '.join(METRICS)}; "
          f"load average {load0:.2f} → {load1:.2f}")
    print(f"  pysaliency {ref['version']} (FileStimuli + SaliencyMapModelFromDirectory): "
          f"{ref_wall:8.2f} s wall {ref_cpu:8.2f} s CPU")
    print(f"  ours: `saliency evaluate --workers {a.workers}` whole command  : "
          f"{ours_wall:8.2f} s wall {ours_cpu:8.2f} s CPU")
    for label, r in (("wall", ref_wall / ours_wall), ("CPU ", ref_cpu / ours_cpu)):
        verdict = "met" if r >= TARGET else f"MISSED by {TARGET / r:.2f}×"
        print(f"  ratio ({label}) {r:7.1f}×   target ≥ {TARGET:.0f}×: {verdict}")
    print("  largest per-image difference: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()

"""Benchmark: probabilistic (metric-specific-map) evaluation, this implementation vs pysaliency, on the same
trained model's log-densities and the same images.

    nice -n 10 /work/main/.venv/bin/python benchmarks/bench_probabilistic.py RUN_OR_CKPT --shards SHARDS
        [--stimuli-file splits.json --split test] [--n-images N] [--ref-python /work/main/.refvenv/bin/python]
        [--work outputs/bench_probabilistic]

The model's log-densities are predicted once (not timed) for the chosen stimuli (all of one size, as
pysaliency's reference script stacks them); then ``saliency.metrics.evaluate(probabilistic=True)`` scores
AUC, sAUC, NSS, IG, LL, CC, KL, SIM on their metric-specific maps (the expected empirical saliency map with
the benchmark's blur: ``gaussian_filter(σ, mode='constant')``, σ of the shards), and
benchmarks/pysaliency_probabilistic.py does the same with pysaliency's models (DensitySaliencyMapModel,
ShuffledAUCSaliencyMapModel, BluringSaliencyMapModel, information gains) in the reference venv, with the same
centre bias (fitted to the images not scored). Prints both times, the ratio pysaliency / ours, and the
largest difference between the two implementations' values (per fixation / per image).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saliency.cli.evaluate import read_stimuli_file  # noqa: E402
from saliency.cli.export import _checkpoint  # noqa: E402
from saliency.evaluation.predictions import load_predictions  # noqa: E402
from saliency.metrics.centre_bias import fit_scoring_centre  # noqa: E402
from saliency.metrics.evaluation import evaluate, sizes_from_manifest  # noqa: E402
from saliency.shards import open_shards  # noqa: E402

METRICS = ["auc_judd", "sauc", "nss", "ig", "ll", "cc", "kl", "sim"]


def _restricted(shards, stimuli: list[str]) -> SimpleNamespace:
    """The shard set seen as only ``stimuli`` (fixations, manifest): pysaliency's FullShuffledNonfixationProvider
    takes negatives from the images it scores, so both sides score the same problem; the centre bias is then
    fitted to all of them (no image is left unscored)."""
    keep = set(stimuli)
    fx = shards.fixations.data
    return SimpleNamespace(stimuli=list(stimuli), manifest=shards.manifest[shards.manifest["stimulus"].isin(keep)],
                           fixations=SimpleNamespace(data=fx[fx["stimulus"].isin(keep)]), meta=shards.meta,
                           iter_ground_truth=shards.iter_ground_truth, image_path=shards.image_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--stimuli-file", type=Path)
    ap.add_argument("--split")
    ap.add_argument("--n-images", type=int, default=0)
    ap.add_argument("--ref-python", default=os.environ.get("SALIENCY_REF_PYTHON", "/work/main/.refvenv/bin/python"))
    ap.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_probabilistic")
    a = ap.parse_args()
    shards = open_shards(a.shards)
    stimuli = read_stimuli_file(a.stimuli_file, a.split) if a.stimuli_file else list(shards.stimuli)
    sizes = sizes_from_manifest(shards.manifest)
    shape = sizes[stimuli[0]]
    stimuli = [s for s in stimuli if sizes[s] == shape]
    if a.n_images:
        stimuli = stimuli[:a.n_images]
    shards = _restricted(shards, stimuli)   # pysaliency draws sAUC negatives from the scored images only
    preds = load_predictions(_checkpoint(a.model), stimuli, image_path=shards.image_path, log_density=True)
    logd = {s: preds[s] for s in stimuli}
    sigma = float(shards.meta["sigma_px"])

    t0, c0 = time.perf_counter(), time.process_time()
    res = evaluate(logd, shards, metrics=METRICS, stimuli=stimuli, probabilistic=True, blur=sigma,
                   keep_per_fixation=True)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0

    d = a.work
    d.mkdir(parents=True, exist_ok=True)
    order = {s: k for k, s in enumerate(stimuli)}
    centre = fit_scoring_centre(shards.fixations.data, sizes, list(shards.stimuli), stimuli)
    clog = np.log(centre.density(*shape))
    gts = {gt.stimulus: np.asarray(gt.density, dtype=np.float64) for gt in shards.iter_ground_truth(stimuli)}
    np.save(d / "log_densities.npy", np.stack([logd[s] for s in stimuli]))
    np.save(d / "gt.npy", np.stack([gts[s] for s in stimuli]))
    np.save(d / "nonfixation.npy", clog)
    np.save(d / "baseline.npy", clog)
    allf = shards.fixations.data
    np.savez(d / "fixations.npz", x=allf["x"].to_numpy(), y=allf["y"].to_numpy(),
             n=allf["stimulus"].map(order).to_numpy())
    (d / "config.json").write_text(json.dumps({"sigma_px": sigma}))
    r = subprocess.run([a.ref_python, str(ROOT / "benchmarks" / "pysaliency_probabilistic.py"), str(d),
                        str(d / "ref.json")], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"pysaliency reference failed:\n{r.stderr[-3000:]}")
    ref = json.loads((d / "ref.json").read_text())
    ref_s = sum(ref["seconds"].values())
    ref_cpu = sum(ref["cpu_seconds"].values())
    diffs = {}
    pf = res.per_fixation
    for m in METRICS:
        ours = pf[m].to_numpy() if m in ("auc_judd", "sauc", "nss", "ig", "ll") else res.per_image[m].to_numpy()
        diffs[m] = float(np.max(np.abs(ours - np.asarray(ref["values"][m]))))
    load = os.getloadavg()[0]
    print(f"{len(stimuli)} images {shape[0]}×{shape[1]}, {len(allf)} fixations, metrics {', '.join(METRICS)}")
    print(f"ours (saliency.metrics.evaluate probabilistic=True): {ours_s:.2f} s wall, {ours_cpu:.2f} s CPU")
    print(f"pysaliency {ref['version']} (same maps and metrics): {ref_s:.2f} s wall, {ref_cpu:.2f} s CPU")
    print(f"ratio pysaliency / ours: {ref_s / ours_s:.1f}× wall, {ref_cpu / ours_cpu:.1f}× CPU   "
          f"(load average {load:.2f})")
    print("largest |ours − pysaliency| per metric: " + ", ".join(f"{m} {v:.1e}" for m, v in diffs.items()))
    (d / "result.json").write_text(json.dumps({"ours_s": ours_s, "ours_cpu_s": ours_cpu, "pysaliency_s": ref_s,
                                               "pysaliency_cpu_s": ref_cpu, "ratio": ref_s / ours_s,
                                               "cpu_ratio": ref_cpu / ours_cpu, "max_abs_diff": diffs, "load": load,
                                               "n_images": len(stimuli), "per_metric_pysaliency_s": ref["seconds"]}))


if __name__ == "__main__":
    main()

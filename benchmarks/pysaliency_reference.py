"""Score maps with pysaliency itself. Runs in the REFERENCE venv (never imported by the project):

    .refvenv/bin/python benchmarks/pysaliency_reference.py DIR OUT.json     (the venv of .ci/build-refvenv)

DIR holds ``preds.npy`` (N, H, W) float32 predictions, ``gt.npy`` (N, H, W) float32 ground-truth densities,
``baseline.npy`` (H, W) float64 baseline density, ``fixations.npz`` (x, y float64; n int image index).
Writes per-fixation AUC (uniform), sAUC (shuffled), NSS, IG (bits, against the baseline) and per-image CC,
KL (benchmark regularisation 2.2204e-16, KL(gt ‖ pred)), SIM, plus the seconds each took.
"""

import importlib.metadata
import json
import sys
import time
from pathlib import Path

import numpy as np
import pysaliency
from pysaliency.models import Model, SaliencyMapNormalizingModel
from pysaliency.saliency_map_models import SaliencyMapModel


def main(d: Path, out: Path) -> None:
    preds = np.load(d / "preds.npy", mmap_mode="r")
    gt = np.load(d / "gt.npy", mmap_mode="r")
    base = np.load(d / "baseline.npy")
    fx = np.load(d / "fixations.npz")
    n_img, h, w = preds.shape
    # stimuli: zero-memory constant images whose single value is the image index (no caching → no hashing)
    stimuli = pysaliency.Stimuli([np.broadcast_to(np.uint16(k), (h, w)) for k in range(n_img)])
    fixations = pysaliency.Fixations.create_without_history(fx["x"], fx["y"], fx["n"].astype(int))

    class Maps(SaliencyMapModel):
        def __init__(self, arr):
            super().__init__(caching=False)
            self.arr = arr

        def _saliency_map(self, stimulus):
            t = time.perf_counter()
            m = np.asarray(self.arr[int(stimulus.flat[0])], dtype=np.float64)
            reads[0] += time.perf_counter() - t
            return m

    class Baseline(Model):
        def __init__(self):
            super().__init__(caching=False)

        def _log_density(self, stimulus):
            return np.log(base)

    reads = [0.0]                       # seconds spent copying maps out of the memory maps
    model, gold = Maps(preds), Maps(gt)
    res, times = {}, {}

    cpu = {}

    def timed(name, f):
        t, c = time.perf_counter(), time.process_time()
        v = f()
        times[name] = time.perf_counter() - t
        cpu[name] = time.process_time() - c
        res[name] = np.asarray(v, dtype=np.float64).tolist()

    timed("auc", lambda: model.AUCs(stimuli, fixations, nonfixations="uniform"))
    timed("sauc", lambda: model.AUCs(stimuli, fixations, nonfixations="shuffled"))
    timed("nss", lambda: model.NSSs(stimuli, fixations))
    timed("cc", lambda: model.CCs(stimuli, gold))
    timed("kl", lambda: model.KLDivs(stimuli, gold, minimum_value=0, log_regularization=2.2204e-16,
                                     quotient_regularization=2.2204e-16))
    timed("sim", lambda: model.SIMs(stimuli, gold))
    timed("ig", lambda: SaliencyMapNormalizingModel(model, minimum_value=0).information_gains(
        stimuli, fixations, Baseline()))
    out.write_text(json.dumps({"values": res, "seconds": times, "read_seconds": reads[0],
                               "cpu_seconds": cpu,
                               "version": importlib.metadata.version("pysaliency"), "n_images": n_img,
                               "n_fixations": int(fx["x"].size)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

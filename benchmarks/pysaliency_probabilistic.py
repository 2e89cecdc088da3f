"""Score a probabilistic model the benchmark's way with pysaliency itself. Runs in the REFERENCE venv
(never imported by the project):

    /work/main/.refvenv/bin/python benchmarks/pysaliency_probabilistic.py DIR OUT.json

DIR holds ``log_densities.npy`` (N, H, W) float64 model log-densities, ``gt.npy`` (N, H, W) ground-truth
densities, ``nonfixation.npy`` (H, W) log-density of the shuffled-AUC negatives (centre bias),
``baseline.npy`` (H, W) IG baseline log-density, ``fixations.npz`` (x, y float64; n int image index) and
``config.json`` ({"sigma_px": σ of the expected empirical saliency map}). The metric-specific maps are the
benchmark's (matthias-k/saliency-benchmarking ``SaliencyMapProvider``): density for AUC and NSS,
log p − log p_nonfix for sAUC, ``BluringSaliencyMapModel(density, σ, mode='constant')`` for CC, KL, SIM;
IG against the baseline and LL against the uniform model (bits). Writes per-fixation AUC, sAUC, NSS, IG, LL
and per-image CC, KL, SIM, plus seconds per metric.
"""

import importlib.metadata
import json
import sys
import time
from pathlib import Path

import numpy as np
import pysaliency
from pysaliency.models import Model, ShuffledAUCSaliencyMapModel
from pysaliency.saliency_map_models import BluringSaliencyMapModel, DensitySaliencyMapModel, SaliencyMapModel


def main(d: Path, out: Path) -> None:
    logd = np.load(d / "log_densities.npy")
    gt = np.load(d / "gt.npy")
    nonfix = np.load(d / "nonfixation.npy")
    base = np.load(d / "baseline.npy")
    fx = np.load(d / "fixations.npz")
    sigma = json.loads((d / "config.json").read_text())["sigma_px"]
    n_img, h, w = logd.shape
    stimuli = pysaliency.Stimuli([np.broadcast_to(np.uint16(k), (h, w)) for k in range(n_img)])
    fixations = pysaliency.Fixations.create_without_history(fx["x"], fx["y"], fx["n"].astype(int))

    class Net(Model):
        def __init__(self):
            super().__init__(caching=False)

        def _log_density(self, stimulus):
            return logd[int(stimulus.flat[0])]

    class Fixed(Model):
        def __init__(self, arr):
            super().__init__(caching=False)
            self.arr = arr

        def _log_density(self, stimulus):
            return self.arr

    class Gold(SaliencyMapModel):
        def __init__(self):
            super().__init__(caching=False)

        def _saliency_map(self, stimulus):
            return np.asarray(gt[int(stimulus.flat[0])], dtype=np.float64)

    model, gold = Net(), Gold()
    dens = DensitySaliencyMapModel(model)
    expected = BluringSaliencyMapModel(dens, kernel_size=sigma, mode="constant", caching=False)
    res, times, cpu = {}, {}, {}

    def timed(name, f):
        t, c = time.perf_counter(), time.process_time()
        res[name] = np.asarray(f(), dtype=np.float64).tolist()
        times[name] = time.perf_counter() - t
        cpu[name] = time.process_time() - c

    timed("auc_judd", lambda: dens.AUCs(stimuli, fixations, nonfixations="uniform"))
    timed("sauc", lambda: ShuffledAUCSaliencyMapModel(model, Fixed(nonfix)).AUCs(
        stimuli, fixations, nonfixations="shuffled"))
    timed("nss", lambda: dens.NSSs(stimuli, fixations))
    timed("ig", lambda: model.information_gains(stimuli, fixations, Fixed(base)))
    timed("ll", lambda: model.information_gains(stimuli, fixations))
    timed("cc", lambda: expected.CCs(stimuli, gold))
    timed("kl", lambda: expected.KLDivs(stimuli, gold, minimum_value=0, log_regularization=2.2204e-16,
                                        quotient_regularization=2.2204e-16))
    timed("sim", lambda: expected.SIMs(stimuli, gold))
    out.write_text(json.dumps({"values": res, "seconds": times, "cpu_seconds": cpu, "n_images": n_img,
                               "n_fixations": int(fx["x"].size),
                               "version": importlib.metadata.version("pysaliency")}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

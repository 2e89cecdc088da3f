"""pysaliency as its documentation shows it, on files. Runs in the REFERENCE venv (never imported by the project):

    .refvenv/bin/python benchmarks/pysaliency_user.py WORK OUT.json     (called by bench_evaluate_cli.py)

WORK holds ``paths.txt`` (stimulus image files, one per line), ``preds/`` and ``gt/`` (``<stem>.npy`` per
stimulus), ``fixations.npz`` (x, y float64; n image index) and ``baselines.npz`` (the IG baseline density per
image size, key ``HxW``). Writes per-fixation AUC (uniform), sAUC (shuffled), NSS, IG (bits) and per-image CC,
KL (benchmark regularisation, KL(gt ‖ pred)) and SIM with the pysaliency version.
"""

import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import pysaliency
from pysaliency.models import Model, SaliencyMapNormalizingModel


def main(work: Path, out: Path) -> None:
    stimuli = pysaliency.FileStimuli(work.joinpath("paths.txt").read_text().split("\n")[:-1])
    fx = np.load(work / "fixations.npz")
    fixations = pysaliency.Fixations.create_without_history(fx["x"], fx["y"], fx["n"].astype(int))
    model = pysaliency.SaliencyMapModelFromDirectory(stimuli, str(work / "preds"))
    gold = pysaliency.SaliencyMapModelFromDirectory(stimuli, str(work / "gt"))
    bases = dict(np.load(work / "baselines.npz"))

    class Baseline(Model):
        def _log_density(self, stimulus):
            h, w = stimulus.shape[:2]
            return np.log(bases[f"{h}x{w}"])

    res = {
        "auc": model.AUCs(stimuli, fixations, nonfixations="uniform"),
        "sauc": model.AUCs(stimuli, fixations, nonfixations="shuffled"),
        "nss": model.NSSs(stimuli, fixations),
        "cc": model.CCs(stimuli, gold),
        "kl": model.KLDivs(stimuli, gold, minimum_value=0, log_regularization=2.2204e-16,
                           quotient_regularization=2.2204e-16),
        "sim": model.SIMs(stimuli, gold),
        "ig": SaliencyMapNormalizingModel(model, minimum_value=0).information_gains(stimuli, fixations, Baseline()),
    }
    out.write_text(json.dumps({"values": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in res.items()},
                               "version": importlib.metadata.version("pysaliency")}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

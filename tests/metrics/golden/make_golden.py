"""Regenerate ``osie_pysaliency.json`` (values computed ONCE with pysaliency 0.2.22 in the reference venv).

Command (from the repository root):
    python tests/metrics/golden/make_golden.py
It builds the maps of the first 4 OSIE images with ``benchmarks/osie_maps.py`` into outputs/golden, runs
``.refvenv/bin/python benchmarks/pysaliency_reference.py outputs/golden outputs/golden/ref.json`` (the
reference venv of ``.ci/build-refvenv``, or ``$SALIENCY_REF_PYTHON``) and keeps per-image means, fixation
means and the first per-fixation values.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
import osie_maps  # noqa: E402

out = ROOT / "outputs" / "golden"
names = osie_maps.build(ROOT.parent / "shared" / "datasets" / "osie", out, n_images=4)
ref_python = os.environ.get("SALIENCY_REF_PYTHON") or str(ROOT / ".refvenv" / "bin" / "python")
subprocess.run([ref_python, str(ROOT / "benchmarks" / "pysaliency_reference.py"), str(out),
                str(out / "ref.json")], check=True)
ref = json.loads((out / "ref.json").read_text())["values"]
n = np.load(out / "fixations.npz")["n"]
golden = {"source": "pysaliency 0.2.22 (.refvenv), benchmarks/pysaliency_reference.py on maps from "
                    "benchmarks/osie_maps.py (first 4 OSIE images); regenerate with "
                    "tests/metrics/golden/make_golden.py",
          "stimuli": names, "per_image": {}, "fixation_mean": {}, "first_per_fixation": {}}
for k in ("auc", "sauc", "nss", "ig"):
    v = np.asarray(ref[k])
    golden["per_image"][k] = [float(v[n == i].mean()) for i in range(len(names))]
    golden["fixation_mean"][k] = float(v.mean())
    golden["first_per_fixation"][k] = v[:25].tolist()
for k in ("cc", "kl", "sim"):
    golden["per_image"][k] = ref[k]
(Path(__file__).parent / "osie_pysaliency.json").write_text(json.dumps(golden, indent=1) + "\n")

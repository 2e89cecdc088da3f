"""The stored pysaliency golden values (golden/osie_pysaliency.json) are what pysaliency 0.2.22 computes
today: the same maps scored live in the reference venv (``ref_python``; required in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((Path(__file__).parent / "golden" / "osie_pysaliency.json").read_text())


def test_golden_values_are_pysaliencys(ref_python, datasets_dir, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import osie_maps
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    names = osie_maps.build(datasets_dir / "osie", tmp_path, n_images=len(GOLDEN["stimuli"]))
    assert names == GOLDEN["stimuli"]
    proc = subprocess.run([str(ref_python), str(ROOT / "benchmarks" / "pysaliency_reference.py"), str(tmp_path),
                           str(tmp_path / "ref.json")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads((tmp_path / "ref.json").read_text())["values"]
    n = np.load(tmp_path / "fixations.npz")["n"]
    for k in ("auc", "sauc", "nss", "ig"):
        v = np.asarray(ref[k])
        assert [float(v[n == i].mean()) for i in range(len(names))] == pytest.approx(GOLDEN["per_image"][k], rel=1e-9)
        assert v[:25].tolist() == pytest.approx(GOLDEN["first_per_fixation"][k], rel=1e-9)
    for k in ("cc", "kl", "sim"):
        assert ref[k] == pytest.approx(GOLDEN["per_image"][k], rel=1e-9)

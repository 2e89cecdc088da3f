"""In CI the reference tests cannot skip: a missing reference venv fails them (tests/conftest.py ``ref_python``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/reports/test_interop_roundtrip.py::test_pysaliency_reads_what_we_write_and_we_read_what_it_writes"


def _run(ci: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "SALIENCY_REF_PYTHON": str(tmp_path / "missing" / "python"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", TARGET],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_missing_reference_venv_fails_in_ci(tmp_path):
    """(Outside CI the same test skips, saying to run .ci/build-refvenv: what a developer sees.)"""
    ci = _run("true", tmp_path)
    assert ci.returncode == 1 and "CI runs every reference test" in ci.stdout, ci.stdout[-2000:]

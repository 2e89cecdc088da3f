"""Shared test fixtures: the real data in ../shared (read in place, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SALIENCY_SHARED", ROOT.parent / "shared")).resolve()


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"real test data missing: {path} (expected ../shared beside the checkout, "
                    "or SALIENCY_SHARED pointing to it)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return _require(SHARED)


@pytest.fixture(scope="session")
def datasets_dir(shared: Path) -> Path:
    return _require(shared / "datasets")


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    return _require(shared / "fixtures")



def ref_python_path() -> Path:
    """The reference venv's interpreter (pysaliency, pymovements, pysodmetrics, h5py; built by
    ``.ci/build-refvenv``): ``$SALIENCY_REF_PYTHON``, else ``<repo>/.refvenv/bin/python``. It may not exist."""
    env = os.environ.get("SALIENCY_REF_PYTHON")
    return Path(env) if env else ROOT / ".refvenv" / "bin" / "python"


def in_ci() -> bool:
    """``$CI`` set to a true value (GitHub Actions, GitLab and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def ref_python() -> Path:
    """The reference interpreter. Missing: outside CI the test skips and says how to build it; in CI it
    fails, so the reference comparisons can never silently skip there."""
    path = ref_python_path()
    if path.exists():
        return path
    msg = (f"reference venv not found at {path}: build it with .ci/build-refvenv "
           "(or point $SALIENCY_REF_PYTHON at one)")
    if in_ci():
        pytest.fail(msg + "; CI runs every reference test")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def osie_table(datasets_dir: Path):
    """All of OSIE's fixations as one FixationTable (read in place)."""
    from saliency.readers.nus import read_nus

    return read_nus(datasets_dir / "osie")


@pytest.fixture(scope="session")
def osie_small(osie_table):
    """Seven OSIE stimuli (enough for three shards of three)."""
    return osie_table.select_stimuli(osie_table.stimuli()[:7])

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

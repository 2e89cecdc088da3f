"""A tiny real shard set (three OSIE stimuli) and a CLI runner for the robustness regression tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def osie_three(datasets_dir: Path):
    from saliency.readers.nus import read_nus

    table = read_nus(datasets_dir / "osie")
    return table.select_stimuli(table.stimuli()[:3])


@pytest.fixture(scope="session")
def shard_master(osie_three, tmp_path_factory) -> Path:
    from saliency.maps import MapOptions
    from saliency.shards import build_shards

    root = tmp_path_factory.mktemp("shards") / "shards"
    build_shards(osie_three, root, MapOptions(sigma=24.0), shard_size=2)
    return root


@pytest.fixture
def shards(shard_master, tmp_path) -> Path:
    """A fresh copy of the shard set that a test may damage."""
    return Path(shutil.copytree(shard_master, tmp_path / "shards"))


@pytest.fixture
def cli(capsys):
    """Run ``saliency ARGS``: (exit code, stdout, stderr)."""
    from saliency.cli.app import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run

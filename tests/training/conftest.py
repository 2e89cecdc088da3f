"""Small real shard sets for the training tests: a dozen OSIE stimuli and three MIT1003 stimuli (read in
place from ../shared; MIT1003 through symlinks in a temporary FixaTons layout, nothing copied)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def osie_shards(datasets_dir: Path, tmp_path_factory) -> Path:
    """Shards of the first 12 OSIE stimuli (σ = 24 px, as pipelines/osie.toml)."""
    from saliency.maps import MapOptions
    from saliency.readers.nus import read_nus
    from saliency.shards import build_shards

    table = read_nus(datasets_dir / "osie")
    root = tmp_path_factory.mktemp("osie") / "shards"
    build_shards(table.select_stimuli(table.stimuli()[:12]), root, MapOptions(sigma=24.0))
    return root


@pytest.fixture(scope="session")
def mit1003_shards(datasets_dir: Path, tmp_path_factory) -> Path:
    """Shards of the first 3 MIT1003 stimuli (FixaTons layout, 1-based coordinates, σ = 24 px)."""
    from saliency.maps import MapOptions
    from saliency.readers.fixatons import read_fixatons
    from saliency.shards import build_shards

    src = datasets_dir / "mit1003"
    tmp = tmp_path_factory.mktemp("mit1003")
    layout = tmp / "layout"
    (layout / "STIMULI").mkdir(parents=True)
    (layout / "SCANPATHS").mkdir()
    for name in sorted(p.name for p in (src / "SCANPATHS").iterdir())[:3]:
        (layout / "SCANPATHS" / name).symlink_to(src / "SCANPATHS" / name)
        (layout / "STIMULI" / f"{name}.jpeg").symlink_to(src / "STIMULI" / f"{name}.jpeg")
    table = read_fixatons(layout, pixels_per_degree=35.0, workers=1)
    root = tmp / "shards"
    build_shards(table, root, MapOptions(sigma=24.0))
    return root

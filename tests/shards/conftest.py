"""Small real OSIE tables for the shard tests (read in place from ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency.fixations.table import FixationTable


@pytest.fixture(scope="session")
def osie_table(datasets_dir: Path) -> FixationTable:
    from saliency.readers.nus import read_nus

    return read_nus(datasets_dir / "osie")


@pytest.fixture(scope="session")
def osie_small(osie_table: FixationTable) -> FixationTable:
    """Seven OSIE stimuli (enough for three shards of three)."""
    return osie_table.select_stimuli(osie_table.stimuli()[:7])

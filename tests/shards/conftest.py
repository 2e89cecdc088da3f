"""Small real OSIE tables for the shard tests (read in place from ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency.fixations.table import DatasetMeta, FixationTable


def subset(table: FixationTable, names: list[str]) -> FixationTable:
    meta = DatasetMeta(table.meta.name, {k: table.meta.stimuli[k] for k in names}, table.meta.geometry,
                       table.meta.pixels_per_degree, table.meta.coordinate_origin, table.meta.source_format,
                       table.meta.notes)
    return FixationTable.from_frame(table.data[table.data["stimulus"].isin(names)], meta)


@pytest.fixture(scope="session")
def osie_table(datasets_dir: Path) -> FixationTable:
    from saliency.readers.nus import read_nus

    return read_nus(datasets_dir / "osie")


@pytest.fixture(scope="session")
def osie_small(osie_table: FixationTable) -> FixationTable:
    """Seven OSIE stimuli (enough for three shards of three)."""
    return subset(osie_table, osie_table.stimuli()[:7])

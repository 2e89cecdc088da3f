"""The contract every registered reader (``saliency.readers.READERS``) keeps, checked on a real sample of
its format: a canonical table (one dataset, every fixation inside its stimulus, every row naming its
source file and record), accounting that balances (kept = rows), the same table on a second read, and a
typed error (never a raw exception) on a corrupt input. A new reader must add its sample to SAMPLES."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency.errors import SaliencyError
from saliency.fixations.table import FixationTable
from saliency.ingest import ingest
from saliency.readers import READERS
from saliency.readers.request import ReadRequest

Sample = tuple[list[Path], ReadRequest]


def _fixatons(datasets: Path, fixtures: Path, tmp: Path) -> Sample:
    """Three MIT1003 stimuli through symlinks in a FixaTons layout (nothing copied)."""
    src, layout = datasets / "mit1003", tmp / "fixatons"
    (layout / "STIMULI").mkdir(parents=True)
    (layout / "SCANPATHS").mkdir()
    for name in sorted(p.name for p in (src / "SCANPATHS").iterdir())[:3]:
        (layout / "SCANPATHS" / name).symlink_to(src / "SCANPATHS" / name)
        (layout / "STIMULI" / f"{name}.jpeg").symlink_to(src / "STIMULI" / f"{name}.jpeg")
    return [layout], ReadRequest("contract", pixels_per_degree=35.0)


def _generic(datasets: Path, fixtures: Path, tmp: Path) -> Sample:
    p = tmp / "fix.csv"
    p.write_text("img,subject,gx,gy,onset,dur\na.png,s1,10.5,20.25,0,200\na.png,s1,30,5,250,180\n"
                 "b.png,s2,0,0,0,300\n")
    return [p], ReadRequest("contract", stimulus_size=(64, 48), columns={
        "stimulus": "img", "observer": "subject", "x": "gx", "y": "gy", "t_start": "onset", "duration": "dur"})


def _samples(datasets: Path, fixtures: Path, tmp: Path) -> Sample:
    """A 600 ms gaze trace at 1 kHz: two steady fixations joined by a 20 ms saccade."""
    t = np.arange(600.0)
    x = np.where(t < 250, 100.0, np.where(t < 270, 100 + (t - 250) * 10, 300.0))
    y = np.where(t < 250, 100.0, np.where(t < 270, 100 + (t - 250) * 5, 200.0))
    p = tmp / "sub7.tsv"
    p.write_text("time\tx\ty\n" + "".join(f"{a:.0f}\t{b:.1f}\t{c:.1f}\n" for a, b, c in zip(t, x, y, strict=True)))
    return [p], ReadRequest("contract", stimulus="img.png", stimulus_size=(400, 300), pixels_per_degree=30.0)


SAMPLES: dict[str, Callable[[Path, Path, Path], Sample]] = {
    "nus": lambda d, f, t: ([d / "osie"], ReadRequest("contract")),
    "fixatons": _fixatons,
    "eyelink": lambda d, f, t: ([f / "eyelink" / "eyelink_monocular_example.asc"],
                                ReadRequest("contract", stimulus="screen.png", stimulus_size=(1280, 1024))),
    "doves": lambda d, f, t: ([f / "doves" / "img001.mat"], ReadRequest("contract")),
    "samples": _samples,
    "dataviewer": lambda d, f, t: ([f / "dataviewer" / "fixation_report.csv"],
                                   ReadRequest("contract", stimulus_size=(1280, 1024))),
    "tobii": lambda d, f, t: ([f / "tobii" / "studio_export.csv"], ReadRequest("contract", stimulus="face_0.png")),
    "generic": _generic,
}


def test_every_registered_reader_has_a_sample():
    assert set(SAMPLES) == set(READERS.names())


@pytest.fixture(scope="module", params=READERS.names())
def read(request, datasets_dir, fixtures_dir, tmp_path_factory):
    name = request.param
    paths, req = SAMPLES[name](datasets_dir, fixtures_dir, tmp_path_factory.mktemp(name))
    return name, paths, req, ingest(name, paths, dataset="contract", out=None, request=req, workers=1)


def test_reader_gives_a_canonical_table(read):
    name, _, _, res = read
    table = res.table
    assert isinstance(table, FixationTable) and len(table) > 0, name
    d = table.data
    assert set(d["dataset"]) == {"contract"}
    assert d["stimulus"].isin(list(table.meta.stimuli)).all()
    size = {s: (info.width_px, info.height_px) for s, info in table.meta.stimuli.items()}
    w = d["stimulus"].map(lambda s: size[s][0]).to_numpy(float)
    h = d["stimulus"].map(lambda s: size[s][1]).to_numpy(float)
    x, y = d["x"].to_numpy(float), d["y"].to_numpy(float)
    assert np.all((x >= 0) & (x < w) & (y >= 0) & (y < h)), f"{name}: a fixation outside its stimulus"
    # times are optional (NaN where a format has none) but never infinite or negative durations
    assert not np.isinf(d["t_start_ms"].to_numpy(float)).any() and (d["duration_ms"].dropna() >= 0).all()


def test_reader_rows_name_their_source_record(read):
    name, paths, _, res = read
    names = {p.name for p in paths}
    sources = res.table.data["source"].astype(str)
    # "file:line" for text formats, "file[record]" for MATLAB files
    record = sources.str.extract(r"^(?P<file>.+?)(?::\d+|\[.+\])")
    assert record["file"].notna().all(), f"{name}: a row without file:line or file[record]: {sources.iat[0]!r}"
    files = {Path(f).name for f in record["file"]}
    assert files, name
    if all(p.is_file() for p in paths):  # file-layout readers: the record's file is one that was read
        assert files <= names, f"{name}: sources {sorted(files)[:3]} not among {sorted(names)}"


def test_reader_accounting_balances(read):
    name, _, _, res = read
    assert res.accounting.total_kept == len(res.table), name
    assert res.accounting.total_dropped >= 0


def test_reader_is_deterministic(read):
    name, paths, req, res = read
    again = ingest(name, paths, dataset="contract", out=None, request=req, workers=1)
    pd.testing.assert_frame_equal(again.table.data, res.table.data)


@pytest.mark.parametrize("name", READERS.names())
def test_reader_refuses_a_corrupt_input_with_a_typed_error(name, tmp_path):
    spec = READERS.get(name)
    if spec.layout == "dataset":
        target = tmp_path / "empty_dataset"
        target.mkdir()
    else:
        suffix = spec.suffixes[0] if spec.suffixes else ".dat"
        target = tmp_path / f"img001{suffix}"
        target.write_bytes(b"\x00\xff garbage \x89PNG\r\n" * 7)
    _, req = SAMPLES[name](tmp_path / "nowhere", tmp_path / "nowhere", tmp_path) if name == "generic" else (
        None, ReadRequest("contract", stimulus="s.png", stimulus_size=(64, 48), pixels_per_degree=30.0))
    with pytest.raises(SaliencyError):
        ingest(name, [target], dataset="contract", out=None, request=req, workers=1)

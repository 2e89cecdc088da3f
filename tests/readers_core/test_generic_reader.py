"""Generic CSV/TSV/Parquet reader: round trips, mapping, origin, time units, bad input named by line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import Accounting
from saliency.fixations.placement import StimulusPlacement
from saliency.readers.base import ReadOptions
from saliency.readers.generic import load_mapping_file, read_generic
from saliency.readers.request import ReadRequest, parse_column_mapping

MAP = {"x": "gx", "y": "gy", "stimulus": "img", "observer": "subj", "t_start": "t", "duration": "dur"}


def _req(**kw) -> ReadRequest:
    base = {"dataset": "toy", "columns": MAP, "stimulus_size": (100, 80)}
    base.update(kw)
    return ReadRequest(**base)


def _frame(n: int, rng: np.random.Generator, w: int = 100, h: int = 80) -> pd.DataFrame:
    # floor, not round: a coordinate rounded up to exactly w (or h) lies outside [0, w) and is dropped
    return pd.DataFrame({"img": rng.choice(["a.png", "b.png"], n), "subj": rng.choice(["p1", "p2", "p3"], n),
                         "gx": np.floor(rng.uniform(0, w, n) * 100) / 100,
                         "gy": np.floor(rng.uniform(0, h, n) * 100) / 100,
                         "t": np.arange(n) * 250.0, "dur": rng.integers(0, 600, n).astype(float)})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 40), seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["csv", "tsv", "parquet"]),
       origin=st.sampled_from([0, 1]), unit=st.sampled_from(["ms", "s"]))
@example(n=12, seed=91, kind="csv", origin=0, unit="ms")  # a y that once rounded up to the height
def test_generic_round_trip(tmp_path_factory, n: int, seed: int, kind: str, origin: int, unit: str) -> None:
    rng = np.random.default_rng(seed)
    df = _frame(n, rng)
    written = df.copy()
    written["gx"] += origin
    written["gy"] += origin
    if unit == "s":
        written["t"] /= 1000.0
        written["dur"] /= 1000.0
    p = tmp_path_factory.mktemp("gen") / f"fix.{kind}"
    if kind == "parquet":
        written.to_parquet(p)
    else:
        written.to_csv(p, sep="\t" if kind == "tsv" else ",", index=False)
    acc = Accounting()
    table = read_generic(p, _req(origin=origin, time_unit=unit), acc)
    assert len(table) == n == acc.total_kept
    got = table.data.sort_values("t_start_ms").reset_index(drop=True)
    np.testing.assert_allclose(got["x"], df["gx"], atol=1e-9)
    np.testing.assert_allclose(got["y"], df["gy"], atol=1e-9)
    np.testing.assert_allclose(got["t_start_ms"], df["t"], atol=1e-6)
    np.testing.assert_allclose(got["duration_ms"], df["dur"], atol=1e-6)
    assert got["observer"].tolist() == df["subj"].tolist()
    # index = order within (stimulus, observer, trial) in file order
    assert (got.groupby(["stimulus", "observer"])["index"].apply(lambda s: s.tolist() == list(range(len(s))))).all()


def _write(tmp_path: Path, text: str | bytes, name: str = "fix.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


HEADER = "img,subj,gx,gy,t,dur\n"


def test_non_number_raises_with_line_or_is_counted(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,10,10,0,100\n\na.png,p1,abc,10,300,100\na.png,p1,12,12,600,100\n")
    with pytest.raises(ReaderError, match=r"'gx' = 'abc'; expected a number") as info:
        read_generic(p, _req(), Accounting())
    assert (info.value.path, info.value.line) == (str(p), 4)
    acc = Accounting()
    table = read_generic(p, _req(options=ReadOptions(on_error="skip")), acc)
    assert table.data["source"].tolist() == [f"{p}:2", f"{p}:5"]
    assert acc.to_dict()["files"][str(p)]["dropped"] == {"malformed record": 1}


def test_too_many_fields_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,10,10,0,100\na.png,p1,10,10,0,100,EXTRA\n")
    with pytest.raises(ReaderError) as info:
        read_generic(p, _req(), Accounting())
    assert info.value.line == 3


def test_missing_coordinates_negative_duration_outside(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,.,10,0,100\na.png,p1,10,10,0,-5\na.png,p1,150,10,0,100\n"
                                  "a.png,p1,20,20,0,100\n")
    with pytest.raises(ReaderError, match="duration") as info:
        read_generic(p, _req(), Accounting())
    assert info.value.line == 3
    acc = Accounting()
    table = read_generic(p, _req(options=ReadOptions(on_error="skip")), acc)
    assert len(table) == 1
    assert acc.dropped_by_reason() == {"negative duration": 1, "non-finite coordinate": 1, "outside stimulus": 1}
    acc = Accounting()
    table = read_generic(p, _req(options=ReadOptions(on_error="skip", out_of_stimulus="clip")), acc)
    assert len(table) == 2 and table.data["x"].max() < 100
    assert acc.total_kept + acc.total_dropped == 4


def test_unknown_stimulus_against_image_folder(tmp_path: Path) -> None:
    from saliency.fixations.table import StimulusInfo

    p = _write(tmp_path, HEADER + "a,p1,10,10,0,100\nzzz.png,p1,10,10,0,100\n")
    stimuli = {"a.png": StimulusInfo("a.png", 100, 80)}
    with pytest.raises(ReaderError, match=r"zzz\.png"):
        read_generic(p, _req(stimuli=stimuli, stimulus_size=None), Accounting())
    acc = Accounting()
    table = read_generic(p, _req(stimuli=stimuli, stimulus_size=None, options=ReadOptions(on_error="skip")), acc)
    assert table.data["stimulus"].tolist() == ["a.png"]  # 'a' matched the image a.png by its stem
    assert acc.dropped_by_reason() == {"unknown stimulus": 1}


def test_wrong_encoding_names_file_and_line_and_latin1_option_reads(tmp_path: Path) -> None:
    p = _write(tmp_path, (HEADER + "a.png,p1,10,10,0,100\nä.png,p1,10,10,0,100\n").encode("latin-1"))
    with pytest.raises(ReaderError, match="cannot decode as utf-8") as info:
        read_generic(p, _req(), Accounting())
    assert info.value.line == 3
    table = read_generic(p, _req(encoding="latin-1"), Accounting())
    assert sorted(table.data["stimulus"]) == ["a.png", "ä.png"]


def test_utf16_with_bom_and_semicolons_are_detected(tmp_path: Path) -> None:
    p = _write(tmp_path, (HEADER + "a.png,p1,10,10,0,100\n").replace(",", ";").encode("utf-16"))
    assert len(read_generic(p, _req(), Accounting())) == 1


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert len(read_generic(_write(tmp_path, ""), _req(), Accounting())) == 0
    assert len(read_generic(_write(tmp_path, HEADER, "h.csv"), _req(), Accounting())) == 0


def test_missing_column_lists_what_the_file_has(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,10,10,0,100\n")
    with pytest.raises(ReaderError, match=r"\{'x': 'gaze_x'\} not found.*the file has: img, subj"):
        read_generic(p, _req(columns={**MAP, "x": "gaze_x"}), Accounting())


def test_placement_converts_screen_to_stimulus(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,112,84,0,100\na.png,p1,212,134,0,100\n")
    table = read_generic(p, _req(placement=StimulusPlacement(112, 84, 2, 2)), Accounting())
    assert table.data[["x", "y"]].to_numpy().tolist() == [[0.0, 0.0], [50.0, 25.0]]


def test_sizes_unknown_is_a_config_error(tmp_path: Path) -> None:
    p = _write(tmp_path, HEADER + "a.png,p1,10,10,0,100\n")
    with pytest.raises(ConfigError, match="--stimulus-size"):
        read_generic(p, _req(stimulus_size=None), Accounting())


def test_column_mapping_parsing_and_toml(tmp_path: Path) -> None:
    assert parse_column_mapping(["x=gaze_x", " y = gaze y "]) == {"x": "gaze_x", "y": "gaze y"}
    for bad in (["x"], ["q=col"], ["x=a", "x=b"], ["=a"]):
        with pytest.raises(ConfigError):
            parse_column_mapping(bad)
    m = tmp_path / "m.toml"
    m.write_text('origin = 1\ntime_unit = "s"\n[columns]\nx = "gx"\ny = "gy"\n')
    assert load_mapping_file(m) == {"origin": 1, "time_unit": "s", "columns": {"x": "gx", "y": "gy"}}
    m.write_text('colour = 1\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_mapping_file(m)

"""Data Viewer fixation reports and Tobii Studio / Pro Lab exports: real fixtures and column variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency.errors import ConfigError, ReaderError
from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.dataviewer import read_dataviewer
from saliency.readers.request import ReadRequest
from saliency.readers.tobii import read_tobii


@pytest.fixture(scope="module")
def dv_path(fixtures_dir: Path) -> Path:
    return fixtures_dir / "dataviewer" / "fixation_report.csv"


@pytest.fixture(scope="module")
def tobii_path(fixtures_dir: Path) -> Path:
    return fixtures_dir / "tobii" / "studio_export.csv"


def test_dataviewer_real_report_keeps_every_fixation(dv_path: Path) -> None:
    acc = Accounting()
    table = read_dataviewer(dv_path, ReadRequest("dv", stimulus_size=(1280, 1024)), acc)
    src = pd.read_csv(dv_path)
    assert len(table) == len(src) == acc.total_kept == 112
    assert table.data["stimulus"].unique().tolist() == ["reading-dickens-1"]  # page_name column
    assert table.data["observer"].unique().tolist() == ["msd001"]
    assert table.data["trial"].unique().tolist() == [1]
    np.testing.assert_array_equal(table.data["x"], src["CURRENT_FIX_X"])
    np.testing.assert_array_equal(table.data["duration_ms"], src["CURRENT_FIX_DURATION"])
    assert table.data["index"].tolist() == list(range(112))
    assert table.data["t_start_ms"].isna().all()  # the report has no CURRENT_FIX_START
    assert table.data["source"].iat[0] == f"{dv_path}:2"


def test_dataviewer_index_start_eye_and_dot_missing(tmp_path: Path) -> None:
    p = tmp_path / "r.txt"
    p.write_text("RECORDING_SESSION_LABEL\tTRIAL_INDEX\tIMAGE\tEYE_USED\tCURRENT_FIX_INDEX\tCURRENT_FIX_START\t"
                 "CURRENT_FIX_DURATION\tCURRENT_FIX_X\tCURRENT_FIX_Y\n"
                 "s1\t1\timg1.jpg\tRIGHT\t1\t0\t200\t10.5\t20.5\n"
                 "s1\t1\timg1.jpg\tRIGHT\t2\t250\t180\t.\t.\n"
                 "s1\t1\timg1.jpg\tRIGHT\t3\t460\t300\t30\t40\n")
    acc = Accounting()
    table = read_dataviewer(p, ReadRequest("dv", stimulus_size=(100, 100)), acc)
    assert table.data["index"].tolist() == [0, 2]  # 1-based CURRENT_FIX_INDEX → 0-based
    assert table.data["t_start_ms"].tolist() == [0.0, 460.0]
    assert table.data["eye"].unique().tolist() == ["right"]
    assert acc.dropped_by_reason() == {"non-finite coordinate": 1}
    left = Accounting()
    assert len(read_dataviewer(p, ReadRequest("dv", stimulus_size=(100, 100), eye="left"), left)) == 0
    assert left.dropped_by_reason() == {"non-finite coordinate": 1, "other eye": 2}


def test_dataviewer_user_selected_stimulus_column(dv_path: Path) -> None:
    table = read_dataviewer(dv_path, ReadRequest("dv", stimulus_size=(1280, 1024), columns={"stimulus": "book_name"}),
                            Accounting())
    assert table.data["stimulus"].unique().tolist() == ["dickens"]


def test_tobii_studio_export_one_row_per_fixation(tobii_path: Path) -> None:
    acc = Accounting()
    table = read_tobii(tobii_path, ReadRequest("fgd", stimulus="face_0.png"), acc)
    raw = pd.read_csv(tobii_path, dtype={"ParticipantName": str})
    fix = raw[raw.GazeEventType == "Fixation"]
    groups = fix.groupby(["ParticipantName", "FixationIndex"])
    assert acc.total_kept + acc.total_dropped == groups.ngroups == 168
    assert acc.dropped_by_reason() == {"non-finite coordinate": 3}
    assert table.meta.stimuli["face_0.png"].width_px == 562 and table.meta.stimuli["face_0.png"].height_px == 762
    assert table.observers() == [f"{i:02d}" for i in range(20)]
    first = fix[fix.ParticipantName == "00"].iloc[0]
    row = table.data.iloc[0]
    assert (row.x, row.y) == (first["FixationPointX(MCSpx)"], first["FixationPointY(MCSpx)"])
    assert row.duration_ms == first["GazeEventDuration"]
    onset = raw[raw.ParticipantName == "00"].RecordingTimestamp.min()
    assert row.t_start_ms == first["RecordingTimestamp"] - onset
    assert row["index"] == 0 and row.source == f"{tobii_path}:{first.name + 2}"


def test_tobii_without_stimulus_name_asks_for_one(tobii_path: Path) -> None:
    with pytest.raises(ConfigError, match="--stimulus"):
        read_tobii(tobii_path, ReadRequest("fgd"), Accounting())


def test_tobii_pro_lab_column_names_and_media_name(tmp_path: Path) -> None:
    p = tmp_path / "prolab.tsv"
    rows = ["Participant name\tRecording name\tPresented Media name\tRecording timestamp [μs]\tEye movement type\t"
            "Eye movement type index\tGaze event duration [ms]\tFixation point X (MCSpx)\tFixation point Y (MCSpx)\t"
            "Presented Media width [px]\tPresented Media height [px]"]
    rows += ["P1\tR1\tcat.jpg\t1000000\tSaccade\t1\t20\t\t\t640\t480",
             "P1\tR1\tcat.jpg\t1020000\tFixation\t1\t200\t100\t50\t640\t480",
             "P1\tR1\tcat.jpg\t1120000\tFixation\t1\t200\t100\t50\t640\t480",
             "P1\tR1\tcat.jpg\t1250000\tFixation\t2\t100\t700\t50\t640\t480",
             "P1\tR1\t\t1400000\tFixation\t3\t100\t10\t10\t\t"]
    p.write_text("\n".join(rows) + "\n")
    acc = Accounting()
    table = read_tobii(p, ReadRequest("pl"), acc)
    assert table.data[["stimulus", "observer", "x", "y", "t_start_ms", "duration_ms"]].values.tolist() == [
        ["cat.jpg", "P1", 100.0, 50.0, 20.0, 200.0]]
    assert acc.dropped_by_reason() == {"no stimulus on screen": 1, "outside stimulus": 1}


def test_tobii_malformed_sample_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.tsv"
    p.write_text("ParticipantName\tGazeEventType\tFixationIndex\tGazeEventDuration\tFixationPointX (MCSpx)\t"
                 "FixationPointY (MCSpx)\tRecordingTimestamp\n"
                 "a\tFixation\t1\t100\t5\t5\t0\na\tFixation\tx1\t100\t5\t5\t3\n")
    with pytest.raises(ReaderError, match="expected a number") as info:
        read_tobii(p, ReadRequest("t", stimulus="s.png", stimulus_size=(10, 10)), Accounting())
    assert info.value.line == 3
    acc = Accounting()
    table = read_tobii(p, ReadRequest("t", stimulus="s.png", stimulus_size=(10, 10),
                                      options=ReadOptions(on_error="skip")), acc)
    assert len(table) == 1 and acc.dropped_by_reason() == {"malformed record": 1}

"""saliency.ingest and `saliency ingest`: real OSIE / MIT1003, byte-identical re-runs, report, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from saliency.cli.app import main
from saliency.errors import ReaderError
from saliency.fixations.table import FixationTable
from saliency.ingest import expand_inputs, ingest, load_card
from saliency.io import sha256_file
from saliency.readers import READERS
from saliency.readers.request import ReadRequest


@pytest.mark.parametrize("name", ["nus", "fixatons", "eyelink", "dataviewer", "tobii", "generic", "doves",
                                  "samples"])
def test_registry_lists_every_format_with_help_and_loadable_entry(name: str) -> None:
    spec = READERS.get(name)
    assert spec.help and spec.layout in ("dataset", "files")
    assert callable(spec.load())


@pytest.fixture(scope="module")
def osie_run(datasets_dir: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("osie_out")
    return out, ingest("nus", [datasets_dir / "osie"], dataset="osie", out=out)


def test_osie_ingest_writes_all_700_stimuli_and_accounts_every_fixation(osie_run, datasets_dir: Path) -> None:
    out, result = osie_run
    report = json.loads((out / "ingest_report.json").read_text())
    mat = scipy.io.loadmat(datasets_dir / "osie" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    n_source = sum(np.atleast_1d(s.fix_x).size for e in mat["fixations"] for s in np.atleast_1d(e.subjects))
    acc = report["accounting"]
    assert acc["kept"] + acc["dropped"] == acc["seen"] == n_source
    assert report["table"]["stimuli_with_fixations"] == 700 and report["table"]["observers"] == 15
    table = FixationTable.read_parquet(out / "fixations.parquet")
    assert len(table) == acc["kept"] and table.meta.ppd == 24.0  # from data/osie.toml
    assert table.meta.notes["card"]["maps"]["sigma_px"] == 24.0
    assert table.data.equals(result.table.data)


def test_reingest_is_byte_identical(osie_run, datasets_dir: Path) -> None:
    out, _ = osie_run
    before = {f: sha256_file(out / f) for f in ("fixations.parquet", "ingest_report.json")}
    ingest("nus", [datasets_dir / "osie"], dataset="osie", out=out)
    assert {f: sha256_file(out / f) for f in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["fixations.parquet", "ingest_report.json"]  # no temp files


def test_drop_first_fixation_is_counted_in_the_report(osie_run, datasets_dir: Path, tmp_path: Path) -> None:
    _, full = osie_run
    res = ingest("nus", [datasets_dir / "osie"], dataset="osie", out=tmp_path, drop_first=1, min_duration_ms=50)
    acc = res.report["accounting"]
    n_first = int((full.table.data["index"] == 0).sum())
    assert acc["dropped_by_reason"]["first fixation"] == n_first
    assert acc["kept"] + acc["dropped"] == full.accounting.total_kept
    assert (res.table.data["index"] > 0).all() and (res.table.data["duration_ms"] >= 50).all()


def _write_csvs(folder: Path, n_files: int, bad_line_in: int | None = None) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        lines = ["img,x,y,dur"] + [f"s{j % 2}.png,{rng.uniform(0, 50):.2f},{rng.uniform(0, 40):.2f},100"
                                   for j in range(5)]
        if bad_line_in == i:
            lines[3] = "s0.png,1,oops,100"
        (folder / f"obs{i}.csv").write_text("\n".join(lines) + "\n")


def _generic_request(**kw) -> ReadRequest:
    return ReadRequest("toy", columns={"x": "x", "y": "y", "stimulus": "img", "duration": "dur"},
                       stimulus_size=(50, 40), **kw)


def test_process_pool_gives_the_same_table_as_one_process(tmp_path: Path) -> None:
    _write_csvs(tmp_path / "in", 4)
    a = ingest("generic", [tmp_path / "in"], dataset="toy", request=_generic_request(), workers=1, out=None)
    b = ingest("generic", [tmp_path / "in"], dataset="toy", request=_generic_request(), workers=2, out=None)
    assert a.table.data.equals(b.table.data) and len(a.table) == 20
    assert a.report == b.report
    assert a.table.observers() == ["obs0", "obs1", "obs2", "obs3"]


def test_worker_errors_keep_file_and_line(tmp_path: Path) -> None:
    _write_csvs(tmp_path / "in", 3, bad_line_in=1)
    with pytest.raises(ReaderError, match="oops") as info:
        ingest("generic", [tmp_path / "in"], dataset="toy", request=_generic_request(), workers=2, out=None)
    assert info.value.path == str(tmp_path / "in" / "obs1.csv") and info.value.line == 4


def test_expand_inputs_finds_format_files_recursively(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.csv", "a/b/y.tsv", "a/notes.md", "a/.hidden.csv"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in expand_inputs(READERS.get("generic"), [tmp_path / "a"])] == ["y.tsv", "x.csv"]
    with pytest.raises(ReaderError, match="does not exist"):
        expand_inputs(READERS.get("generic"), [tmp_path / "nope"])


def test_default_out_is_outputs_dataset(tmp_path: Path, monkeypatch) -> None:
    _write_csvs(tmp_path / "in", 1)
    monkeypatch.chdir(tmp_path)
    res = ingest("generic", [tmp_path / "in"], dataset="toy", request=_generic_request())
    assert res.out_dir == Path("outputs/toy") and (tmp_path / "outputs/toy/fixations.parquet").is_file()


def test_cards_give_defaults() -> None:
    assert load_card("osie").pixels_per_degree == 24.0
    assert load_card("mit1003").pixels_per_degree == 35.0 and load_card("mit1003").coordinate_origin == 1
    assert load_card("sod").raw["stimuli"]["count"] == 300


# ---- CLI -------------------------------------------------------------------------------------
def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    cap = capsys.readouterr()
    return int(info.value.code or 0), cap.out, cap.err


def test_cli_generic_json_report(tmp_path: Path, capsys) -> None:
    _write_csvs(tmp_path / "in", 2)
    code, out, _ = _run(["ingest", "generic", str(tmp_path / "in"), "--dataset", "toy", "--out", str(tmp_path / "o"),
                         "--column", "x=x", "--column", "y=y", "--column", "stimulus=img", "--column",
                         "duration=dur", "--stimulus-size", "50x40", "--json", "-j", "1"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["accounting"]["kept"] == 10 and report["format"] == "generic"
    assert json.loads((tmp_path / "o" / "ingest_report.json").read_text()) == report


def test_cli_bad_data_exits_3_naming_file_and_line(tmp_path: Path, capsys) -> None:
    _write_csvs(tmp_path / "in", 1, bad_line_in=0)
    code, _, err = _run(["ingest", "generic", str(tmp_path / "in"), "--dataset", "toy", "--out", str(tmp_path / "o"),
                         "-c", "x=x", "-c", "y=y", "-c", "stimulus=img", "--stimulus-size", "50x40"], capsys)
    assert code == 3
    assert "obs0.csv:4" in err and "expected a number" in err
    code, out, _ = _run(["ingest", "generic", str(tmp_path / "in"), "--dataset", "toy", "--out", str(tmp_path / "o"),
                         "-c", "x=x", "-c", "y=y", "-c", "stimulus=img", "--stimulus-size", "50x40",
                         "--on-error", "skip"], capsys)
    assert code == 0 and "malformed record" in out


def test_cli_unknown_format_is_a_usage_error(tmp_path: Path, capsys) -> None:
    code, _, _ = _run(["ingest", "edf", str(tmp_path), "--dataset", "x"], capsys)
    assert code == 2


def test_cli_help_lists_formats(capsys) -> None:
    code, out, _ = _run(["ingest", "--help"], capsys)
    assert code == 0
    for name in READERS.names():
        assert name in out


@pytest.fixture(scope="module")
def mit_subset(datasets_dir: Path, tmp_path_factory) -> Path:
    src = datasets_dir / "mit1003"
    root = tmp_path_factory.mktemp("mit_sub")
    (root / "STIMULI").mkdir()
    (root / "SCANPATHS").mkdir()
    for s in sorted(os.listdir(src / "SCANPATHS"))[:20]:
        (root / "STIMULI" / f"{s}.jpeg").symlink_to(src / "STIMULI" / f"{s}.jpeg")
        (root / "SCANPATHS" / s).symlink_to(src / "SCANPATHS" / s)
    return root


def test_cli_fixatons_subset_of_real_mit1003(mit_subset: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = _run(["ingest", "fixatons", str(mit_subset), "--dataset", "mit1003", "--out", str(tmp_path),
                         "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    n_lines = sum(len(f.read_text().split("\n")) - 1 for d in (mit_subset / "SCANPATHS").iterdir() for f in d.iterdir())
    assert report["accounting"]["seen"] == n_lines
    assert report["table"]["stimuli_with_fixations"] == 20 and report["table"]["pixels_per_degree"] == 35.0


@pytest.mark.slow
def test_cli_full_mit1003_all_1003_stimuli(datasets_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = _run(["ingest", "fixatons", str(datasets_dir / "mit1003"), "--dataset", "mit1003", "--out",
                         str(tmp_path), "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["accounting"]["seen"] == 119432 and report["accounting"]["kept"] == 119196
    assert report["table"]["stimuli_with_fixations"] == 1003 and report["table"]["observers"] == 15
    assert len(report["accounting"]["files"]) == 1003 * 15


def test_cli_mapping_file_with_column_override(tmp_path: Path, capsys) -> None:
    (tmp_path / "f.tsv").write_text("img\tgx\tgy\tt\n" + "".join(f"a.png\t{i + 1}\t{i + 1}\t{i / 10}\n" for i in range(5)))
    (tmp_path / "m.toml").write_text('origin = 1\ntime_unit = "s"\n[columns]\nx = "WRONG"\ny = "gy"\nt_start = "t"\n')
    code, out, _ = _run(["ingest", "generic", str(tmp_path / "f.tsv"), "--dataset", "toy", "--out", str(tmp_path / "o"),
                         "--mapping", str(tmp_path / "m.toml"), "-c", "x=gx", "--stimulus", "a.png",
                         "--stimulus-size", "10x10", "--json"], capsys)
    assert code == 0, out
    table = FixationTable.read_parquet(tmp_path / "o" / "fixations.parquet")
    assert table.data["x"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # 1-based → 0-based
    assert table.data["t_start_ms"].tolist() == pytest.approx([0.0, 100.0, 200.0, 300.0, 400.0])
    assert json.loads(out)["request"]["columns"]["x"] == "gx"

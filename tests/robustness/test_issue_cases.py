"""One regression test per numbered case of issue 12 ("Nothing lost, nothing silently changed").

Exit codes (docs/robustness.md): 0 ok · 1 a gate failed (verify found damage) · 2 usage · 3 bad data or
config · 4 unexpected. Every error names the file (and line or record); none is a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from saliency.errors import ChecksumError, ConfigError, FolderBusy, ReaderError, SchemaError
from tests.robustness.corpus import FIXTURES, fixture, read, read_table

ROOT = Path(__file__).resolve().parents[2]


def _no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out + err, out + err


# ---- 1. values changed silently --------------------------------------------------------------------
def test_case1_dataviewer_report_cut_mid_row_is_an_error_not_a_fixation(tmp_path, cli):
    text = fixture("dataviewer").read_text()
    lines = text.splitlines(keepends=True)
    last = lines[-1].rstrip("\n")
    cut = last[: last.index(",", last.index(",", last.index(",") + 1) + 1) + 8]  # …,X,Y-ish: mid-row
    p = tmp_path / "[report].csv"
    p.write_text("".join(lines[:-1]) + cut)
    with pytest.raises(ReaderError, match=rf"{len(lines)}: fewer fields"):
        read_table("dataviewer", p, "raise")
    acc = read("dataviewer", p, "skip")
    assert acc["seen"] == len(lines) - 1 and acc["dropped_by_reason"] == {"truncated row": 1}
    code, out, err = cli("ingest", "dataviewer", p, "--dataset", "dv", "--stimulus-size", "1280x1024",
                         "--out", tmp_path / "o")
    assert code == 3 and f"{p}:{len(lines)}" in err.replace("\n", "")
    _no_traceback(out, err)


def test_case1_last_field_cut_without_line_end_is_not_kept_shortened(tmp_path):
    data = fixture("dataviewer").read_bytes()
    p = tmp_path / "cut.csv"
    p.write_bytes(data.rstrip(b"\n")[:-2])  # "reading-dickens-1" → "reading-dicken": same field count
    with pytest.raises(ReaderError, match="without a line end"):
        read_table("dataviewer", p, "raise")


def test_case1_short_generic_row_is_an_error_under_raise(tmp_path):
    from saliency.fixations.accounting import Accounting
    from saliency.readers.generic import read_generic
    from saliency.readers.request import ReadRequest

    p = tmp_path / "fix.csv"
    p.write_text("img,x,y,dur\na.png,10,20,100\na.png,30\na.png,40,50,80\n")
    req = ReadRequest("g", columns={"stimulus": "img", "x": "x", "y": "y", "duration": "dur"},
                      stimulus_size=(100, 100))
    with pytest.raises(ReaderError, match=r"fix.csv:3: fewer fields"):
        read_generic(p, req, Accounting())


# ---- 2. whole recordings vanish uncounted ----------------------------------------------------------
def test_case2_tobii_utf16le_without_bom_is_read_in_full(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(fixture("tobii").read_text().encode("utf-16-le"))
    assert read("tobii", p)["seen"] == read("tobii", fixture("tobii"))["seen"] == 168


def test_case2_eyelink_utf16_under_skip_sees_every_fixation(tmp_path):
    kind = "eyelink_binocular"
    p = tmp_path / "e.asc"
    p.write_bytes(fixture(kind).read_text().encode("utf-16"))
    assert read(kind, p, "skip")["seen"] == read(kind, fixture(kind))["seen"] == 4


def test_case2_undecodable_asc_is_an_error_under_skip(tmp_path):
    p = tmp_path / "e.asc"
    p.write_bytes(np.random.default_rng(0).integers(1, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(ReaderError, match=str(p)):
        read("eyelink", p, "skip")


# ---- 3. error messages keep their location ----------------------------------------------------------
def test_case3_brackets_in_paths_and_records_survive_and_do_not_crash(tmp_path, cli):
    folder = tmp_path / "[bold]data[red]"
    folder.mkdir()
    p = folder / "a.asc"
    p.write_text("garbage\n")
    code, out, err = cli("ingest", "eyelink", p, "--dataset", "x", "--stimulus", "s.png", "--out", tmp_path / "o")
    assert code == 3 and f"{p}:1" in err.replace("\n", "")
    _no_traceback(out, err)


def test_case3_config_error_keeps_bracketed_table_names(tmp_path, cli):
    p = tmp_path / "pipe.toml"
    p.write_text('[pipeline]\nname = "x"\ntask = "fixation"\n[zzz]\nbogus = 1\n')
    code, out, err = cli("run", p)
    assert code == 3 and "table [zzz] is not a known stage" in err.replace("\n", " ")
    _no_traceback(out, err)


# ---- 4. tracebacks → clear errors naming the file ---------------------------------------------------
def test_case4_flipped_byte_in_doves_mat_names_file_and_skip_skips_it(tmp_path, cli):
    folder = tmp_path / "doves"
    folder.mkdir()
    for name in ("img001.mat", "img002.mat"):
        data = bytearray((FIXTURES / "doves" / name).read_bytes())
        if name == "img002.mat":
            data[5000] ^= 0xFF
        (folder / name).write_bytes(bytes(data))
    code, out, err = cli("ingest", "doves", folder, "--dataset", "dv", "--out", tmp_path / "o")
    assert code == 3 and "img002.mat" in err
    _no_traceback(out, err)
    code, out, err = cli("ingest", "doves", folder, "--dataset", "dv", "--out", tmp_path / "o2",
                         "--on-error", "skip", "--json")
    assert code == 0
    report = json.loads((tmp_path / "o2" / "ingest_report.json").read_text())
    assert list(report["accounting"]["files_skipped"]) == [str(folder / "img002.mat")]


def test_case4_matlab_v73_file_says_so(tmp_path):
    from saliency.readers.doves import read_doves

    p = tmp_path / "img001.mat"
    p.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ReaderError, match=r"v7\.3"):
        read_doves(p)


def test_case4_missing_manifest(shards, cli, tmp_path):
    (shards / "manifest.parquet").unlink()
    code, out, err = cli("verify", shards)
    assert code == 1 and "manifest.parquet" in err
    preds = tmp_path / "p"
    preds.mkdir()
    code, out, err = cli("evaluate", preds, "--shards", shards)
    assert code == 3 and "manifest.parquet" in err
    _no_traceback(out, err)
    code, out, err = cli("train", ROOT / "pipelines/configs/quick.toml", "--set", f"data.shards='{shards}'",
                         "--set", f"runs_dir='{tmp_path / 'runs'}'")
    assert code == 3 and "manifest.parquet" in err
    _no_traceback(out, err)


def test_case4_meta_json_a_list(shards, cli, tmp_path):
    (shards / "meta.json").write_text("[1, 2, 3]")
    code, out, err = cli("verify", shards)
    assert code == 1 and "meta.json" in err
    code, out, err = cli("evaluate", tmp_path, "--shards", shards)
    assert code == 3 and "meta.json" in err
    _no_traceback(out, err)


def test_case4_binary_toml_config(tmp_path, cli):
    p = tmp_path / "cfg.toml"
    p.write_bytes(os.urandom(200) + b"\xff\xfe")
    for cmd in ("train", "run"):
        code, out, err = cli(cmd, p)
        assert code == 3 and str(p) in err.replace("\n", ""), (cmd, err)
        _no_traceback(out, err)


def test_case4_checkpoint_with_format_tag_but_missing_keys(shards, tmp_path, cli):
    import torch

    from saliency.training.checkpoint import FORMAT

    p = tmp_path / "model.pt"
    torch.save({"format": FORMAT, "model": {}}, p)
    code, out, err = cli("evaluate", p, "--shards", shards)
    assert code == 3 and "model.pt" in err and "lacks" in err
    _no_traceback(out, err)


@pytest.mark.parametrize("content", ["random", "object", "strings"])
def test_case4_bad_prediction_npy(shards, tmp_path, cli, content):
    from saliency.shards import open_shards

    preds = tmp_path / "preds"
    preds.mkdir()
    stim = open_shards(shards).stimuli[0]
    p = preds / (Path(stim).stem + ".npy")
    if content == "random":
        p.write_bytes(os.urandom(500))
    elif content == "object":
        buf = io.BytesIO()
        np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        p.write_bytes(buf.getvalue())
    else:
        np.save(p, np.array([["a", "b"], ["c", "d"]]))
    code, out, err = cli("evaluate", preds, "--shards", shards, "--stimuli-file", _stimuli_file(tmp_path, stim))
    assert code == 3 and p.name in err, err
    _no_traceback(out, err)


def _stimuli_file(tmp_path: Path, stim: str) -> Path:
    f = tmp_path / "only.json"
    f.write_text(json.dumps([stim]))
    return f


@pytest.mark.parametrize("content", ["strings", "empty"])
def test_case4_bad_pysaliency_hdf5(shards, tmp_path, cli, content):
    import h5py

    from saliency.shards import open_shards

    stim = open_shards(shards).stimuli[0]
    p = tmp_path / "preds.hdf5"
    with h5py.File(p, "w") as f:
        if content == "strings":
            f.create_dataset(stim, data=np.array([b"abc", b"def"]))
    code, out, err = cli("evaluate", p, "--shards", shards, "--stimuli-file", _stimuli_file(tmp_path, stim))
    assert code == 3 and "preds.hdf5" in err, err
    _no_traceback(out, err)


# ---- 5. damage verify did not see -------------------------------------------------------------------
def test_case5_changed_sigma_in_meta_fails_verify_and_loading(shards, cli):
    meta = json.loads((shards / "meta.json").read_text())
    meta["sigma_px"] = 12.0
    (shards / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    code, _out, err = cli("verify", shards, "--deep")
    assert code == 1 and "meta.json" in err
    from saliency.shards import open_shards

    with pytest.raises(ChecksumError, match="meta_sha256"):
        open_shards(shards)


def test_case5_swapped_map_keys_resealed_fail_verify(shards, cli):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from saliency.io import sha256_file
    from saliency.shards.seal import sealed

    path = shards / "manifest.parquet"
    t = pq.read_table(path).to_pandas()
    a, b = 0, 1
    for col in ("shard", "key", "map_sha256"):
        t.loc[[a, b], col] = t.loc[[b, a], col].to_numpy()
    pq.write_table(pa.Table.from_pandas(t, schema=pq.read_schema(path), preserve_index=False), path)
    meta = json.loads((shards / "meta.json").read_text())
    meta["manifest_sha256"] = sha256_file(path)
    (shards / "meta.json").write_text(json.dumps(meta))  # re-sealed manifest only: caught by the meta seal
    assert cli("verify", shards)[0] == 1
    (shards / "meta.json").write_text(json.dumps(sealed(meta)))  # meta re-sealed too: caught by the sidecars
    code, out, err = cli("verify", shards)
    assert code == 1 and "binding" in out + err


def test_case5_old_unsealed_set_stays_readable_and_verify_names_rebuild(shards, cli):
    meta = json.loads((shards / "meta.json").read_text())
    del meta["meta_sha256"]
    (shards / "meta.json").write_text(json.dumps(meta))
    from saliency.shards import open_shards

    ss = open_shards(shards)
    assert ss.density(ss.stimuli[0]).sum() == pytest.approx(1.0, abs=1e-5)
    code, out, err = cli("verify", shards)
    assert code == 1 and "--rebuild" in out + err


# ---- 6. names that escape ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", "../x", "a/b", "/abs", "C:x", ""])
def test_case6_unsafe_names_are_refused(name, tmp_path, cli):
    code, out, err = cli("train", ROOT / "pipelines/configs/quick.toml", "--set", f"name='{name}'",
                         "--set", f"runs_dir='{tmp_path / 'runs'}'")
    assert code == 3 and "name" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.pt"))
    p = tmp_path / "pipe.toml"
    p.write_text(f'[pipeline]\nname = "{name}"\ntask = "fixation"\n')
    code, out, err = cli("run", p, "--dry-run")
    assert code == 3 and "[pipeline].name" in err
    code, out, err = cli("ingest", "dataviewer", fixture("dataviewer"), "--dataset", name,
                         "--stimulus-size", "1280x1024", "--out", tmp_path / "o")
    assert code == 3 and "dataset" in err
    _no_traceback(out, err)


# ---- 7. smaller -------------------------------------------------------------------------------------
def _evaluate_one(shards: Path, tmp_path: Path, cli, smap_of) -> tuple[int, str, str, str]:
    from saliency.shards import open_shards

    ss = open_shards(shards)
    stim = ss.stimuli[0]
    preds = tmp_path / "preds"
    preds.mkdir(exist_ok=True)
    np.save(preds / (Path(stim).stem + ".npy"), smap_of(ss.density(stim).astype(np.float64)))
    return (*cli("evaluate", preds, "--shards", shards, "--stimuli-file", _stimuli_file(tmp_path, stim)), stim)


def test_case7_nan_map_names_the_stimulus(shards, tmp_path, cli):
    def nan_map(d):
        d[3, 4] = np.nan
        return d

    code, _out, err, stim = _evaluate_one(shards, tmp_path, cli, nan_map)
    assert code == 3 and stim in err and "non-finite" in err


def test_case7_huge_finite_map_is_an_error_not_nan_scores(shards, tmp_path, cli):
    code, out, err, stim = _evaluate_one(shards, tmp_path, cli, lambda d: d / d.max() * 1e308)
    assert code == 3 and stim in err and "not finite" in err
    _no_traceback(out, err)


def test_case7_wrong_size_map_names_the_stimulus(shards, tmp_path, cli):
    code, _out, err, stim = _evaluate_one(shards, tmp_path, cli, lambda d: np.ones((7, 5)))
    assert code == 3 and stim in err


def test_case7_samples_reader_honours_encoding(tmp_path):
    from saliency.readers.samples import read_samples

    text = fixture("samples").read_text().replace("time", "tïme", 1)
    p = tmp_path / "s.tsv"
    p.write_bytes(text.encode("latin-1"))
    with pytest.raises(ReaderError, match="latin-1"):
        read_samples(p, time_column="tïme")
    assert len(read_samples(p, time_column="tïme", encoding="latin-1")) == 10


def test_case7_tobii_fixation_without_index_counts_once(tmp_path):
    rows = list(csv.reader(io.StringIO(fixture("tobii").read_text())))
    head = rows[0]
    fi, ty = head.index("FixationIndex"), head.index("GazeEventType")
    start = next(i for i, r in enumerate(rows) if i and r[ty] == "Fixation")
    first = rows[start][fi]
    n_rows = 0
    for r in rows[start:]:  # the sample rows of the file's first fixation (one participant, consecutive)
        if r[ty] != "Fixation" or r[fi] != first:
            break
        r[fi] = ""
        n_rows += 1
    assert n_rows > 1  # the fixation spans several sample rows
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    p = tmp_path / "t.csv"
    p.write_text(out.getvalue())
    acc = read("tobii", p, "skip")
    assert acc["seen"] == 168 and acc["dropped_by_reason"].get("malformed record") == 1


def test_case7_nan_duration_is_non_finite_not_negative(tmp_path):
    from saliency.fixations.accounting import Accounting
    from saliency.readers.base import ReadOptions
    from saliency.readers.fixatons import parse_scanpath

    p = tmp_path / "obs1"
    p.write_text("10 20 0.1 0.3\n30 40 0.5 nan\n")
    parsed = parse_scanpath(p, p.read_text(), ReadOptions(on_error="skip"))
    assert parsed.accounting.dropped_by_reason() == {"non-finite duration": 1}
    assert isinstance(parsed.accounting, Accounting)


def test_case7_resume_with_other_thread_count_warns():
    import torch

    from saliency.training.loop import ResumeThreadsWarning, warn_thread_change

    with pytest.warns(ResumeThreadsWarning, match="bit-identical"):
        warn_thread_change({"torch_threads": torch.get_num_threads() + 1}, Path("last.pt"))


def test_case7_run_folder_lock(tmp_path):
    from saliency.io import folder_lock

    with folder_lock(tmp_path, "run folder"):
        with pytest.raises(FolderBusy, match=str(os.getpid())):
            with folder_lock(tmp_path, "run folder"):
                pass
        # a second process is refused too
        code = subprocess.run([sys.executable, "-c", "from saliency.io import folder_lock\n"
                               f"with folder_lock({str(tmp_path)!r}): pass"], capture_output=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}).returncode
        assert code != 0
    assert not (tmp_path / ".lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(f"{dead.pid} {os.uname().nodename} 2026-01-01T00:00:00\n")
    with folder_lock(tmp_path):  # stale: its process is gone
        pass


def test_errors_module_types_exit_codes():
    assert ConfigError("x").exit_code == SchemaError("x").exit_code == FolderBusy("x").exit_code == 3


def test_case7_second_saliency_run_on_a_locked_folder_is_refused(tmp_path, cli):
    from saliency.io import folder_lock

    out = tmp_path / "run"
    with folder_lock(out, "the pipeline run folder"):
        code, stdout, err = cli("run", ROOT / "pipelines/osie.toml", "--quick", "--out", out)
    assert code == 3 and "in use by process" in err and str(os.getpid()) in err
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())
    _no_traceback(stdout, err)

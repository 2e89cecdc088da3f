"""Exit 4 (a bug): one plain paragraph naming the failure, the exception and the traceback file — no
traceback on the terminal unless SALIENCY_DEBUG=1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from saliency.cli.app import main


def _boom(*args, **kwargs):
    raise KeyError("no-such-key-in-a-dict")


@pytest.fixture
def broken_verify(monkeypatch, tmp_path):
    """`saliency verify` forced to hit a bug (an unexpected KeyError inside the library)."""
    import saliency.shards

    monkeypatch.setattr(saliency.shards, "open_shards", _boom)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "set").mkdir()
    return tmp_path


def _run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_an_unexpected_error_is_one_plain_paragraph_and_exit_4(broken_verify, capsys, monkeypatch):
    monkeypatch.delenv("SALIENCY_DEBUG", raising=False)
    code, out, err = _run(["verify", str(broken_verify / "set")], capsys)
    assert code == 4
    assert "Traceback" not in out + err and 'File "' not in err
    assert err.count("\n") == 1, err  # one paragraph
    assert "`saliency verify` failed with KeyError" in err and "no-such-key-in-a-dict" in err
    assert "SALIENCY_DEBUG=1" in err and "report" in err
    report = Path(re.search(r"written to (\S+?\.txt)", err).group(1))
    assert report.parent == broken_verify  # the temp dir (no --out folder on this command line)
    text = report.read_text()
    assert "Traceback" in text and "_boom" in text and "command: saliency verify" in text


def test_the_traceback_goes_to_an_existing_out_folder(broken_verify, capsys, monkeypatch):
    from saliency.cli.crash import write_crash_report

    out_dir = broken_verify / "out"
    out_dir.mkdir()
    try:
        _boom()
    except KeyError as exc:
        path = write_crash_report(exc, ["evaluate", "p.npy", f"--out={out_dir}"])
    assert path is not None and path.parent == out_dir and "KeyError" in path.read_text()


def test_saliency_debug_prints_the_traceback(broken_verify, capsys, monkeypatch):
    monkeypatch.setenv("SALIENCY_DEBUG", "1")
    code, _out, err = _run(["verify", str(broken_verify / "set")], capsys)
    assert code == 4
    assert "Traceback (most recent call last)" in err and "_boom" in err
    assert "`saliency verify` failed with KeyError" in err

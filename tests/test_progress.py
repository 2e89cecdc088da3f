"""The progress reporter: plain log lines with throughput when stderr is not a terminal."""

from __future__ import annotations

import io

from saliency.progress import LogProgress, progress, rate_text


def test_log_progress_writes_count_percentage_and_throughput():
    out = io.StringIO()
    with LogProgress(stream=out, interval_s=0.0) as bar:
        task = bar.add_task("maps", total=4, rate="")
        bar.advance(task)
        bar.update(task, advance=1, rate="2.0 maps/s")
        bar.update(task, completed=4, description="maps (done)")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("maps: 1/4 (25%) · ") and lines[0].endswith("items/s")
    assert lines[1] == "maps: 2/4 (50%) · 2.0 maps/s"
    assert lines[-1] == "maps (done): 4/4 (100%) · 2.0 maps/s"


def test_log_progress_throttles_and_can_be_disabled():
    out = io.StringIO()
    with LogProgress(stream=out, interval_s=3600.0) as bar:
        task = bar.add_task("x", total=None)
        for _ in range(100):
            bar.advance(task)
    assert out.getvalue().splitlines() == [f"x: 100 · {out.getvalue().split(' · ')[1].strip()}"]
    quiet = io.StringIO()
    with LogProgress(stream=quiet, interval_s=0.0, disable=True) as bar:
        bar.advance(bar.add_task("x", total=3))
    assert quiet.getvalue() == ""


def test_progress_is_plain_when_stderr_is_not_a_terminal(capsys):
    assert isinstance(progress(), LogProgress)
    assert rate_text(10, 2.0, "img") == "5.0 img/s"
    assert rate_text(10, 0.0, "img") == ""

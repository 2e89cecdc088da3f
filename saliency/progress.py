"""Progress reporting for long loops (core layer: any layer may use it).

:func:`progress` returns a rich progress bar when stderr is a terminal and a :class:`LogProgress`
otherwise (a pipe, a log file, CI): plain lines ``description: done/total (pct) · rate`` on stderr,
at most one every ``interval_s`` seconds per task and one when the loop ends. Both offer the same
subset of rich's API: ``add_task(description, total=None, **fields)``, ``update(task, advance=,
completed=, total=, description=, **fields)``, ``advance(task, n)`` and use as a context manager.
A ``rate`` field (see :func:`rate_text`) is shown when given; otherwise the plain lines state the
throughput as items per second since the task was added.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def rate_text(done: int, elapsed_s: float, unit: str) -> str:
    """Throughput as text, e.g. ``'12.5 img/s'`` (empty before any time has passed)."""
    return f"{done / elapsed_s:,.1f} {unit}/s" if elapsed_s > 0 else ""


@dataclass
class _Task:
    description: str
    total: float | None
    fields: dict[str, Any]
    completed: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    last_line: float = field(default_factory=time.perf_counter)


class LogProgress:
    """Plain-text progress: one line per task every ``interval_s`` seconds and a final line."""

    def __init__(self, stream: TextIO | None = None, interval_s: float = 10.0, disable: bool = False) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._disable = disable
        self._tasks: dict[int, _Task] = {}

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self._tasks.values():
            self._line(t)
        self._tasks.clear()

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        task_id = len(self._tasks)
        self._tasks[task_id] = _Task(description, total, dict(fields))
        return task_id

    def update(self, task_id: int, *, advance: float | None = None, completed: float | None = None,
               total: float | None = None, description: str | None = None, **fields: Any) -> None:
        t = self._tasks[task_id]
        if completed is not None:
            t.completed = completed
        if advance is not None:
            t.completed += advance
        if total is not None:
            t.total = total
        if description is not None:
            t.description = description
        t.fields.update(fields)
        now = time.perf_counter()
        if now - t.last_line >= self._interval_s:
            t.last_line = now
            self._line(t)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _line(self, t: _Task) -> None:
        if self._disable:
            return
        done = f"{t.completed:g}"
        if t.total:
            done += f"/{t.total:g} ({100.0 * t.completed / t.total:.0f}%)"
        rate = t.fields.get("rate") or rate_text(int(t.completed), time.perf_counter() - t.started, "items")
        stream = self._stream or sys.stderr
        stream.write(f"{t.description}: {done}" + (f" · {rate}" if rate else "") + "\n")
        stream.flush()


def progress(transient: bool = False, *, disable: bool = False) -> Progress | LogProgress:
    """A rich bar (count, rate field, elapsed, ETA) on a terminal's stderr; plain log lines otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return LogProgress(disable=disable)
    return Progress(
        TextColumn("{task.description}", markup=False, style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=disable,
    )

"""Helpers shared by command modules: consoles, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from typing import Any

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


def console() -> Console:
    """stdout console that prints text as is: no rich markup, no highlighting (paths and records such
    as ``file.mat [fixations(1)]`` keep their brackets, and a bracket can never break the output)."""
    return Console(markup=False, highlight=False, emoji=False)


def err_console() -> Console:
    """stderr console, plain text like :func:`console`."""
    return Console(stderr=True, markup=False, highlight=False, emoji=False)


def print_json(obj: Any) -> None:
    """Machine-readable output for ``--json``: one JSON document on stdout."""
    from saliency.io import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def progress(transient: bool = False, *, disable: bool = False) -> Progress:
    """A rich progress bar with count, throughput-friendly columns and ETA (to stderr)."""
    return Progress(
        TextColumn("{task.description}", markup=False, style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        transient=transient,
        disable=disable,
    )


def rate_text(done: int, elapsed_s: float, unit: str) -> str:
    return f"{done / elapsed_s:,.1f} {unit}/s" if elapsed_s > 0 else ""

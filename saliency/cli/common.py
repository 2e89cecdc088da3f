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
    return Console()


def err_console() -> Console:
    return Console(stderr=True)


def print_json(obj: Any) -> None:
    """Machine-readable output for ``--json``: one JSON document on stdout."""
    from saliency.io import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def progress(transient: bool = False, *, disable: bool = False) -> Progress:
    """A rich progress bar with count, throughput-friendly columns and ETA (to stderr)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
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

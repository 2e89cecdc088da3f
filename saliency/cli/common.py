"""Helpers shared by command modules: consoles and JSON output (progress: :mod:`saliency.progress`)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


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

"""Helpers shared by command modules: consoles and JSON output (progress: :mod:`saliency.progress`)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def console() -> Console:
    return Console()


def err_console() -> Console:
    return Console(stderr=True)


def print_json(obj: Any) -> None:
    """Machine-readable output for ``--json``: one JSON document on stdout."""
    from saliency.io import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")

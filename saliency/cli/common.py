"""Helpers shared by command modules: consoles and JSON output (progress: :mod:`saliency.progress`)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

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


_QUICK_EXIT = {"allowed": False}


def allow_quick_exit() -> None:
    """Called by a command whose every output is written and closed when it returns (``saliency evaluate``,
    ``saliency maps``): run as a program, the process then ends by :func:`end_process`
    (:func:`saliency.cli.app.main`)."""
    _QUICK_EXIT["allowed"] = True


def quick_exit_allowed() -> bool:
    """Whether the command allowed it and no profiler or tracer runs (``python -m cProfile``, debuggers and
    coverage tools write their results after the program returns: they get the ordinary exit)."""
    return _QUICK_EXIT["allowed"] and sys.getprofile() is None and sys.gettrace() is None


def end_process() -> NoReturn:
    """Exit 0 without the interpreter's teardown of every module (≈ 0.06 s after ``saliency evaluate``, with
    numba, pandas and pyarrow loaded): other non-daemon threads are joined, the ``atexit`` handlers run
    (logging, temporary directories, process pools) and stdout/stderr are flushed first."""
    import atexit
    import os
    import threading

    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):    # a closed pipe (`| head`) or stream: nothing more can be written
            pass
    os._exit(0)

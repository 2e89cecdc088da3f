"""The last line of defence: an unexpected exception (a bug, exit 4) becomes a plain paragraph.

The user sees what failed, the exception type and message, where the full traceback was written and how
to report it — never the traceback itself, unless ``SALIENCY_DEBUG=1`` is set in the environment.
The traceback file goes into the command's output folder (the value of ``--out``/``--run-dir``/
``--out-dir`` when that folder exists) or else the system temp directory, named
``saliency-crash-<UTC time>-<pid>.txt``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TextIO

import saliency

DEBUG_ENV = "SALIENCY_DEBUG"
_OUT_OPTIONS = ("--out", "--run-dir", "--out-dir")


def debug_enabled() -> bool:
    """True when ``SALIENCY_DEBUG`` is set to anything but empty/``0``/``false``/``no``."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no"}


def _out_folder(argv: list[str]) -> Path | None:
    """The existing folder named by an output option on the command line (``--out X`` or ``--out=X``)."""
    for i, arg in enumerate(argv):
        for opt in _OUT_OPTIONS:
            value = None
            if arg == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(opt + "="):
                value = arg[len(opt) + 1:]
            if value and Path(value).is_dir():
                return Path(value)
    return None


def write_crash_report(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the version, command line and full traceback of ``exc``; returns the file, or None when no
    folder was writable."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"saliency-crash-{stamp}-{os.getpid()}.txt"
    text = (f"saliency {saliency.__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
            f"command: saliency {' '.join(argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    folders = [f for f in (_out_folder(argv), Path(tempfile.gettempdir())) if f is not None]
    for folder in folders:
        try:
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def crash_message(exc: BaseException, argv: list[str], report: Path | None) -> str:
    """The one paragraph printed for an unexpected error."""
    command = argv[0] if argv and not argv[0].startswith("-") else "saliency"
    where = (f"The full traceback was written to {report}." if report is not None
             else "The traceback could not be written to a file (no writable folder).")
    return (f"unexpected error: `saliency {command}` failed with {type(exc).__name__}: {exc}. "
            f"This is a bug in saliency {saliency.__version__}, not a problem with your input. {where} "
            f"Please report it with the command you ran and that file; set {DEBUG_ENV}=1 to print the "
            f"traceback here.")


def report_unexpected(exc: BaseException, argv: list[str], stream: TextIO) -> None:
    """Print the crash paragraph (and the traceback when debugging) to ``stream``."""
    report = write_crash_report(exc, argv)
    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    stream.write(crash_message(exc, argv, report) + "\n")

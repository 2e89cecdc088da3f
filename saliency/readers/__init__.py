"""Readers: one module per recording format, each returning canonical fixation rows.

See :mod:`saliency.readers.base` for the options and finalisation every reader shares,
:mod:`saliency.fixations.accounting` for the accounting of kept and dropped records, and
:mod:`saliency.readers.request` for the :class:`ReadRequest` the ingest orchestration passes.

``READERS`` maps a format name to a :class:`ReaderSpec`: its one-line help, whether a PATH is a whole
dataset folder (``layout="dataset"``) or one recording file (``layout="files"``: folders are expanded
to the files with the format's suffixes), and its entry point
``read(path: Path, request: ReadRequest, accounting: Accounting) -> FixationTable``, imported lazily so
that ``saliency --help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from saliency.registry import Registry

if TYPE_CHECKING:
    from saliency.fixations.accounting import Accounting
    from saliency.fixations.table import FixationTable
    from saliency.readers.request import ReadRequest

ReadFn = Callable[[Path, "ReadRequest", "Accounting"], "FixationTable"]


@dataclass(frozen=True)
class ReaderSpec:
    """A registered input format."""

    name: str
    help: str
    layout: Literal["dataset", "files"]
    entry: str  # "module:function" with the ReadFn signature
    suffixes: tuple[str, ...] = ()
    name_pattern: str | None = None   # files="...": a folder expands only to file names matching this regex
    known_files: tuple[tuple[str, str], ...] = ()   # (file name, why it is ignored) for files shipped alongside

    def ignores(self, name: str) -> str | None:
        """Why a file found in a folder is not read (None: it is read)."""
        import re

        for known, why in self.known_files:
            if name.lower() == known.lower():
                return why
        if self.name_pattern is not None and not re.fullmatch(self.name_pattern, name, flags=re.IGNORECASE):
            return f"name does not match {self.name_pattern}"
        return None

    def load(self) -> ReadFn:
        module, _, func = self.entry.partition(":")
        return getattr(importlib.import_module(module), func)


READERS: Registry[ReaderSpec] = Registry("input format")


def _add(spec: ReaderSpec) -> None:
    READERS.add(spec.name, spec, help=spec.help)


_TEXT = (".csv", ".tsv", ".txt", ".xls", ".tab")
_add(ReaderSpec("nus", "NUS/OSIE folder: fixations.mat (MATLAB, 1-based) + stimuli/ images", "dataset",
                "saliency.readers.nus:read_nus_request"))
_add(ReaderSpec("fixatons", "FixaTons folder (MIT1003): SCANPATHS/<stimulus>/<observer> 'x y t0 t1' + STIMULI/",
                "dataset", "saliency.readers.fixatons:read_fixatons_request"))
_add(ReaderSpec("eyelink", "EyeLink ASC files (edf2asc): EFIX events, screen px → stimulus via placement",
                "files", "saliency.readers.adapters:read_eyelink_request", (".asc",)))
_add(ReaderSpec("doves", "DOVES imgNNN.mat files or the shipped +images/ folder (authors' fixations, or "
                "--option events=ivt|idt); pictures written to <out>/stimuli/", "files",
                "saliency.readers.adapters:read_doves_request", (".mat",), name_pattern=r"img\d+\.mat",
                known_files=(("fixationDatabase.mat", "the authors' combined database of the same fixations "
                              "(the imgNNN.mat files are read instead)"),)))
_add(ReaderSpec("samples", "raw gaze sample tables (time, x, y): fixations detected with I-VT / I-DT", "files",
                "saliency.readers.adapters:read_samples_request", (".tsv", ".csv", ".txt")))
_add(ReaderSpec("dataviewer", "EyeLink Data Viewer fixation report (CSV/TSV with CURRENT_FIX_* columns)", "files",
                "saliency.readers.dataviewer:read_dataviewer", _TEXT))
_add(ReaderSpec("tobii", "Tobii Pro Studio / Pro Lab sample export (TSV/CSV) with Tobii's fixation filter",
                "files", "saliency.readers.tobii:read_tobii", _TEXT))
_add(ReaderSpec("generic", "any fixation table (CSV/TSV/Parquet) with --column FIELD=COLUMN or --mapping TOML",
                "files", "saliency.readers.generic:read_generic", (*_TEXT, ".parquet", ".pq")))

__all__ = ["READERS", "ReadFn", "ReaderSpec"]

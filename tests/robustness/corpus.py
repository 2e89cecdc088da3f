"""The robustness corpus: every real text fixture, how to read it, and generators of damaged variants.

``read(kind, path, on_error)`` runs the reader of ``kind`` over one file and returns the accounting
dict (``seen``, ``kept``, ``dropped``, ``dropped_by_reason``, ``files``) or raises what the reader
raised. Variants are written under a pytest ``tmp_path``; the fixtures are read in place, never changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from saliency.fixations.accounting import Accounting
from saliency.readers.base import ReadOptions
from saliency.readers.request import ReadRequest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("SALIENCY_SHARED", ROOT.parent / "shared")).resolve() / "fixtures"

# kind → (fixture relative path, ReadRequest keywords)
TEXT_FIXTURES: dict[str, tuple[str, dict]] = {
    "dataviewer": ("dataviewer/fixation_report.csv", {"stimulus_size": (1280, 1024)}),
    "tobii": ("tobii/studio_export.csv", {"stimulus": "face_0.png"}),
    "eyelink": ("eyelink/eyelink_monocular_example.asc", {"stimulus": "s.png", "stimulus_size": (1280, 1024)}),
    "eyelink_binocular": ("eyelink/eyelink_binocular_example.asc",
                          {"stimulus": "s.png", "stimulus_size": (1280, 1024)}),
    "samples": ("samples/binocular_1khz.tsv", {"stimulus": "s.png", "stimulus_size": (1280, 1024),
                                               "pixels_per_degree": 30.0}),
}
FORMAT = {"dataviewer": "dataviewer", "tobii": "tobii", "eyelink": "eyelink", "eyelink_binocular": "eyelink",
          "samples": "samples"}


def fixture(kind: str) -> Path:
    return FIXTURES / TEXT_FIXTURES[kind][0]


def read(kind: str, path: Path, on_error: str = "raise", encoding: str = "utf-8") -> dict:
    """Read one file with the reader of ``kind``; the accounting as a dict (see :func:`read_table`)."""
    return read_table(kind, path, on_error, encoding)[0]


def read_table(kind: str, path: Path, on_error: str = "raise", encoding: str = "utf-8"):
    """(accounting dict, table frame) of one file read with the reader of ``kind``."""
    from saliency.readers import READERS

    kw = dict(TEXT_FIXTURES[kind][1])
    request = ReadRequest("t", options=ReadOptions(on_error=on_error, out_of_stimulus="clip"),
                          encoding=encoding, **kw)
    acc = Accounting()
    table = READERS.get(FORMAT[kind]).load()(path, request, acc)
    return acc.to_dict(), table.data


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def truncations(data: bytes, max_cuts: int = 40) -> Iterator[tuple[str, bytes]]:
    """The file cut at line ends and mid-line (at most ``max_cuts`` evenly spaced positions each)."""
    lines = lines_of(data)
    ends = [sum(len(v) for v in lines[: i + 1]) for i in range(len(lines))]
    step = max(1, len(ends) // max_cuts)
    for k in range(0, len(ends) - 1, step):
        yield f"after line {k + 1}", data[: ends[k]]
        line = lines[k + 1]
        cut = ends[k] + max(1, len(line.rstrip()) - 2)  # mid-line: drops the last characters
        yield f"inside line {k + 2}", data[:cut]


ENCODINGS = ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1")


def reencode(data: bytes, codec: str) -> bytes:
    """The (ASCII/UTF-8) fixture in ``codec``; ``utf-16`` writes a byte-order mark, ``-le``/``-be`` none."""
    return data.decode("utf-8").encode(codec)


def byte_flips(data: bytes, n: int = 12, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    import random

    rng = random.Random(seed)
    for _ in range(n):
        i = rng.randrange(len(data))
        b = bytearray(data)
        b[i] ^= 1 << rng.randrange(8)
        yield f"bit flip at byte {i}", bytes(b)

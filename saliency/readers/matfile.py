"""MATLAB .mat loading shared by the DOVES and NUS readers: every failure is a ReaderError naming the file.

scipy reads MATLAB v4–v7.2 files. A v7.3 file is HDF5 (header text ``MATLAB 7.3 MAT-file``, HDF5
signature at byte 512): it gets its own message (re-save with ``save(..., '-v7')``) instead of scipy's
"version 0, 0". Damaged bytes (a flipped byte in a compressed variable: zlib "Error -3 while
decompressing data", truncated files, garbage) are a :class:`ReaderError` naming the file, never a
traceback; under ``--on-error skip`` ingest then skips the file and lists it (see docs/robustness.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from saliency.errors import ReaderError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_v73(path: Path) -> bool:
    """True for a MATLAB v7.3 (HDF5) file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(520)
    except OSError:
        return False
    return b"MATLAB 7.3" in head[:116] or head[512:520] == HDF5_SIGNATURE or head[:8] == HDF5_SIGNATURE


def load_mat(path: str | Path, expected: str, **kwargs: Any) -> dict[str, Any]:
    """``scipy.io.loadmat(path, **kwargs)``; ``expected`` says what the file should be (for messages)."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise ReaderError(f"file not found: expected {expected}", path=path)
    if is_v73(path):
        raise ReaderError(f"MATLAB v7.3 (HDF5) file, which this reader does not read: re-save it in MATLAB "
                          f"with save(..., '-v7'); expected {expected}", path=path)
    try:
        return scipy.io.loadmat(path, **kwargs)
    except MemoryError as exc:
        raise ReaderError(f"damaged MATLAB file (a size field asks for too much memory): expected {expected}",
                          path=path) from exc
    except Exception as exc:  # scipy/zlib raise ValueError, TypeError, zlib.error, MatReadError... on damage
        raise ReaderError(f"not a readable MATLAB v5 file ({type(exc).__name__}: {exc}); damaged or "
                          f"truncated? expected {expected}", path=path) from exc

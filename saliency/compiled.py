"""Starting numba's compiler early and lean: :func:`start_numba`.

The first compiled call in a process — even of a kernel loaded from numba's cache — starts numba's CPU
target: it loads every numba implementation module (≈ 0.12 s), and one of them imports ``scipy.linalg``
(≈ 0.1 s more) only to learn whether ``np.correlate`` / ``np.convolve`` in compiled code may call BLAS.
No kernel of this project uses them (with the import skipped they use numba's own loop; ``np.dot`` and
``np.linalg`` still find BLAS: they import it themselves). Commands that run compiled kernels on worker
threads (``saliency maps``, ``saliency evaluate``) call :func:`start_numba` on the calling thread first.
"""

from __future__ import annotations

import sys
import threading

import numba
import numpy as np

_BLAS_CHECK = ("scipy.linalg", "scipy.linalg.cython_blas")


class _SkipBlasCheck:
    """An import finder that fails ``scipy.linalg`` (and its ``cython_blas``) for one thread only."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()

    def find_spec(self, fullname: str, path=None, target=None) -> None:
        if fullname in _BLAS_CHECK and threading.get_ident() == self._thread:
            raise ModuleNotFoundError(f"{fullname} is not imported while numba starts", name=fullname)
        return None


@numba.njit(cache=True, nogil=True)
def _first(a: np.ndarray) -> float:  # pragma: no cover - compiled
    return a[0]


def start_numba() -> None:
    """Start numba's CPU target now, on the calling thread, without importing scipy.linalg (see the module
    docstring). The import fails only on the calling thread while numba starts (an import finder keyed to
    the thread): other threads may import anything meanwhile. Call it before starting the threads that run
    compiled code. Once numba has started it only makes a cached call."""
    skip = None if _BLAS_CHECK[1] in sys.modules else _SkipBlasCheck()
    if skip is not None:
        sys.meta_path.insert(0, skip)
    try:
        _first(np.zeros(1))
    finally:
        if skip is not None:
            sys.meta_path.remove(skip)

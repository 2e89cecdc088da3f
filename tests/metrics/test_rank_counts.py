"""The exact rank counts behind the AUCs (saliency.metrics.jit.rank_counts) against brute-force counting."""

from __future__ import annotations

import numpy as np
import pytest

from saliency.metrics.jit import rank_counts


def _brute(values: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (values[None, :] < positives[:, None]).sum(1), (values[None, :] == positives[:, None]).sum(1)


@pytest.mark.parametrize("kind", ["normal", "ties", "signed_zeros", "wide_range", "float32", "constant"])
def test_rank_counts_equal_brute_force(kind: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(1, 2000))
        if kind == "normal":
            v = rng.normal(size=n)
        elif kind == "ties":
            v = rng.integers(-3, 4, size=n).astype(np.float64)
        elif kind == "signed_zeros":
            v = np.where(rng.random(n) < 0.5, 0.0, -0.0) + rng.integers(0, 2, n) * 5e-324
        elif kind == "wide_range":
            v = np.exp(rng.normal(size=n) * 60) * rng.choice([-1.0, 1.0], size=n)
        elif kind == "float32":
            v = rng.normal(size=n).astype(np.float32)
        else:
            v = np.full(n, 0.25)
        pos = v[rng.integers(0, n, int(rng.integers(1, 60)))]
        big = np.finfo(v.dtype).max
        pos = np.concatenate([pos, np.array([-0.0, 0.0, big, -big], dtype=v.dtype)])
        less, eq = rank_counts(v, pos)
        want_less, want_eq = _brute(v, pos)
        np.testing.assert_array_equal(less, want_less)
        np.testing.assert_array_equal(eq, want_eq)


def test_rank_counts_reuse_a_workspace() -> None:
    from saliency.metrics.fused import Workspace

    ws = Workspace()
    rng = np.random.default_rng(3)
    for n in (5000, 10, 3000):
        v = rng.random(n)
        pos = v[:7]
        less, eq = rank_counts(v, pos, ws)
        want_less, want_eq = _brute(v, pos)
        np.testing.assert_array_equal(less, want_less)
        np.testing.assert_array_equal(eq, want_eq)


@pytest.mark.parametrize("kind", ["normal", "ties", "signed_zeros"])
def test_finish_subtracts_the_excluded_values(kind: str) -> None:
    """RankBuckets.finish with ``exclude`` (the fused sAUC's own fixations): the counts over the values
    without one occurrence of each excluded value; few distinct positives and many."""
    from saliency.metrics.jit import _KEY_TYPES, RankBuckets, _bucket_pass

    rng = np.random.default_rng(11)
    for n_pos in (3, 40):
        n = 3000
        if kind == "normal":
            v = rng.normal(size=n)
        elif kind == "ties":
            v = rng.integers(-3, 4, size=n).astype(np.float64)
        else:
            v = np.where(rng.random(n) < 0.5, 0.0, -0.0) + rng.integers(0, 3, n) * 0.5
        pos = np.concatenate([v[rng.integers(0, n, n_pos)], [-0.0, 0.0]])
        drop = rng.choice(n, 50, replace=False)
        rb = RankBuckets(pos)
        hist, buf = rb.buffers("t", n)
        utype, sign, mask = _KEY_TYPES[v.dtype]
        below, k = _bucket_pass(v.view(utype), sign, mask, rb.klo, rb.shift, rb.marks, hist, buf)
        less, eq = rb.finish(below, hist, buf, k, v[drop])
        want_less, want_eq = _brute(np.delete(v, drop), pos)
        np.testing.assert_array_equal(less, want_less)
        np.testing.assert_array_equal(eq, want_eq)
    with pytest.raises(ValueError, match="float64"):
        RankBuckets(pos.astype(np.float32)).finish(0, hist, buf, 0, v[:2])


def test_start_numba_skips_scipy_linalg_and_leaves_it_importable() -> None:
    """A fresh interpreter: numba starts without importing scipy.linalg, which stays importable afterwards."""
    import subprocess
    import sys

    code = ("import sys; from saliency.compiled import start_numba; from saliency.metrics.jit import block_sum; "
            "import numpy as np; "
            "start_numba(); print('scipy.linalg' in sys.modules, block_sum(np.ones(3))); "
            "import scipy.linalg.cython_blas; print('importable')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "3.0", "importable"]


def test_the_blas_check_is_skipped_on_the_starting_thread_only() -> None:
    import threading

    from saliency.compiled import _SkipBlasCheck

    finder = _SkipBlasCheck()
    with pytest.raises(ModuleNotFoundError, match=r"scipy\.linalg"):
        finder.find_spec("scipy.linalg")
    assert finder.find_spec("scipy.ndimage") is None
    seen = []
    t = threading.Thread(target=lambda: seen.append(finder.find_spec("scipy.linalg.cython_blas")))
    t.start()
    t.join()
    assert seen == [None]

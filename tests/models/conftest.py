"""Fixtures of the model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread per test: on the shared 2-core machine, 2 OpenMP threads competing with other
    jobs made convolution backward passes spin for minutes (the same as tests/models_blocks/conftest.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

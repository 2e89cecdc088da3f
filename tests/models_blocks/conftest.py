"""Fixtures of the blocks tests: ONNX round trip (TorchScript exporter, dynamic B/H/W, onnxruntime)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from torch import nn


def export_and_compare(module: nn.Module, example: tuple[torch.Tensor, ...],
                       others: list[tuple[torch.Tensor, ...]], *, n_outputs: int = 1,
                       atol: float = 1e-4) -> None:
    """Export ``module`` on ``example``, run ``example`` and every ``others`` input tuple in onnxruntime and
    assert the outputs match eager torch to ``atol``/``rtol`` = 1e-4 (shapes included)."""
    import onnxruntime as ort

    module.eval()
    names = [f"x{i}" for i in range(len(example))]
    outs = [f"y{i}" for i in range(n_outputs)]
    axes = {n: {0: "b", 2: f"h{i}", 3: f"w{i}"} for i, n in enumerate(names) if example[i].dim() == 4}
    axes.update({n: {0: "b"} for i, n in enumerate(names) if example[i].dim() != 4})
    axes.update({n: {0: "b", 2: "ho", 3: "wo"} for n in outs})
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, buf, dynamo=False, input_names=names, output_names=outs,
                          dynamic_axes=axes, opset_version=17)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for inputs in [example, *others]:
        with torch.no_grad():
            ours = module(*inputs)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
        for a, b in zip(ours, theirs, strict=True):
            assert b.shape == tuple(a.shape)
            np.testing.assert_allclose(b, a.numpy(), atol=atol, rtol=1e-4)


@pytest.fixture
def onnx_roundtrip():
    """:func:`export_and_compare` as a fixture (tests run in importlib mode, so no helper imports)."""
    return export_and_compare


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: intra-op threads only add contention on the shared machine (≈2× faster with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

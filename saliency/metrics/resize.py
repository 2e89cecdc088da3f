"""MATLAB-compatible ``imresize`` (bicubic, antialiased), the resizing of the MIT benchmark code.

Only the ``mit`` convention resizes implicitly; ``pysaliency`` raises on a size mismatch unless asked to
resize. Reference: MATLAB ``imresize`` (``contributions`` / ``cubic`` kernel, a = −0.5, antialiasing when
shrinking: the kernel is stretched by 1/scale), pixel centres at ``(i − 0.5)/scale + 0.5``, symmetric
padding at the borders. Implemented as two dense (out × in) weight matrices: ``W_r @ A @ W_cᵀ``.
"""

from __future__ import annotations

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> np.ndarray:
    """Dense (out_len, in_len) matrix of MATLAB's bicubic ``imresize`` contributions along one axis."""
    kernel_width = 4.0
    if scale < 1 and antialias:
        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)
        kernel_width = kernel_width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    p = int(np.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(p)[None, :]                    # 1-based input positions
    w = kernel(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])   # symmetric padding (0-based)
    idx0 = aux[np.mod(idx.astype(np.int64) - 1, aux.size)]
    out = np.zeros((out_len, in_len))
    rows = np.broadcast_to(np.arange(out_len)[:, None], idx0.shape)
    np.add.at(out, (rows, idx0), w)
    return out


def imresize(image: np.ndarray, output_shape: tuple[int, int] | None = None, *,
             scale: float | None = None) -> np.ndarray:
    """Resize a 2-D map like MATLAB ``imresize(image, [R C])`` or ``imresize(image, scale)`` (bicubic).

    image: (H, W) float; returns (R, C) float64. With ``scale`` the output is ``ceil(scale · size)`` and the
    kernel uses ``scale`` itself (as MATLAB does); with ``output_shape`` each axis uses ``out / in``.
    """
    a = np.asarray(image, dtype=np.float64)
    h, w = a.shape
    if output_shape is None:
        if scale is None:
            raise ValueError("imresize needs output_shape or scale")
        output_shape = (int(np.ceil(scale * h)), int(np.ceil(scale * w)))
        sr = sc = float(scale)
    else:
        sr, sc = output_shape[0] / h, output_shape[1] / w
    oh, ow = int(output_shape[0]), int(output_shape[1])
    if (oh, ow) == (h, w):
        return a.copy()
    wr = resize_weights(h, oh, sr)
    wc = resize_weights(w, ow, sc)
    return wr @ a @ wc.T

"""Image sizes read straight from JPEG/PNG headers agree with PIL; anything else falls back to PIL."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from saliency.errors import ReaderError
from saliency.readers.stimuli import header_size, image_size


def _encode(w: int, h: int, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "kw"), [("JPEG", {}), ("JPEG", {"progressive": True}),
                                         ("JPEG", {"exif": b"Exif\x00\x00" + bytes(3000)}), ("PNG", {})])
@pytest.mark.parametrize(("w", "h"), [(1, 1), (800, 600), (3, 1021)])
def test_header_size_equals_pil(fmt, kw, w, h):
    data = _encode(w, h, fmt, **kw)
    assert header_size(data) == (h, w) == image_size("x", data)


def test_other_or_damaged_headers_go_to_pil_and_fail_as_reader_errors(tmp_path):
    bmp = _encode(7, 5, "BMP")
    assert header_size(bmp) is None and image_size("x.bmp", bmp) == (5, 7)
    jpeg = _encode(40, 30, "JPEG")
    for bad in (jpeg[:20], b"\xff\xd8\x00\x00" + jpeg[4:], b"not an image"):
        assert header_size(bad) is None
    with pytest.raises(ReaderError, match="not a readable image"):
        image_size("x.jpg", b"not an image")
    (tmp_path / "a.png").write_bytes(_encode(9, 4, "PNG"))
    assert image_size(tmp_path / "a.png") == (4, 9)

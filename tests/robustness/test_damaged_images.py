"""A damaged or non-image picture is bad input (exit 3 naming the file), never an 'unexpected error'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from saliency.datasets import read_rgb
from saliency.errors import ReaderError


@pytest.fixture()
def damaged(tmp_path: Path, datasets_dir: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes((datasets_dir / "osie" / "stimuli" / "1001.jpg").read_bytes()[:3000])
    return {"garbage": garbage, "cut": cut}


@pytest.mark.parametrize("kind", ["garbage", "cut"])
def test_read_rgb_names_the_damaged_file(damaged, kind):
    with pytest.raises(ReaderError, match=rf"{kind}\.jpg: not a readable image .*expected a JPEG/PNG"):
        read_rgb(damaged[kind])


def test_predict_on_a_damaged_image_exits_3_naming_it(damaged, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "saliency", "predict", str(damaged["cut"]), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "cut.jpg: not a readable image" in proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr

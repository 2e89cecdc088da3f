"""Builders of small synthetic datasets in the NUS and FixaTons layouts (for round-trip tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (128, 128, 128)).save(path)
    return path


def write_nus(root: Path, scanpaths: dict[str, list[dict]], sizes: dict[str, tuple[int, int]]) -> Path:
    """``scanpaths[img]`` = list of subjects, each ``{"fix_x", "fix_y", "fix_duration"}`` (1-based)."""
    import scipy.io

    for name, (w, h) in sizes.items():
        write_image(root / "stimuli" / name, w, h)
    struct = np.empty((len(scanpaths), 1), dtype=object)
    for i, (img, subjects) in enumerate(scanpaths.items()):
        subs = np.empty((len(subjects), 1), dtype=object)
        for j, s in enumerate(subjects):
            subs[j, 0] = {k: np.asarray(v, dtype=np.float64).reshape(1, -1) for k, v in s.items()}
        struct[i, 0] = {"img": img, "subjects": subs}
    scipy.io.savemat(root / "fixations.mat", {"fixations": struct})
    return root


def write_fixatons(root: Path, scanpaths: dict[str, dict[str, np.ndarray]], sizes: dict[str, tuple[int, int]],
                   fmt: str = "%d %d %.3f %.3f") -> Path:
    """``scanpaths[stem][observer]`` = (n, 4) array ``x y t_start t_end`` written as text."""
    for stem, (w, h) in sizes.items():
        write_image(root / "STIMULI" / f"{stem}.jpeg", w, h)
    for stem, observers in scanpaths.items():
        for obs, rows in observers.items():
            p = root / "SCANPATHS" / stem / obs
            p.parent.mkdir(parents=True, exist_ok=True)
            np.savetxt(p, np.asarray(rows, dtype=float).reshape(-1, 4), fmt=fmt)
    return root

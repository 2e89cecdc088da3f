"""Build one set of OSIE predictions, ground-truth densities, fixations and a centre baseline on disk for the
metrics benchmark and the golden tests (from ../shared/datasets/osie/fixations.mat; no shards needed).

Ground truth: fixation counts blurred with σ = 24 px (scipy, mode constant), normalised. Prediction (a
plausible model): the map of observers 0–7 blurred with σ = 30 px plus 2 % of the centre Gaussian.
Baseline: centre Gaussian fitted to all fixations. MATLAB 1-based coordinates: x0 = x1 − 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

H, W = 600, 800


def load_osie(osie_dir: Path, n_images: int | None = None):
    import scipy.io as sio

    recs = sio.loadmat(osie_dir / "fixations.mat", squeeze_me=True, struct_as_record=False)["fixations"]
    xs, ys, ns, ss, names = [], [], [], [], []
    for n, rec in enumerate(recs[:n_images]):
        names.append(str(rec.img))
        for k, subj in enumerate(np.atleast_1d(rec.subjects)):
            x = np.atleast_1d(subj.fix_x).astype(float) - 1.0
            y = np.atleast_1d(subj.fix_y).astype(float) - 1.0
            ok = (x >= 0) & (y >= 0) & (x < W) & (y < H)
            xs.append(x[ok])
            ys.append(y[ok])
            ns.append(np.full(ok.sum(), n))
            ss.append(np.full(ok.sum(), k))
    return names, np.concatenate(xs), np.concatenate(ys), np.concatenate(ns), np.concatenate(ss)


def centre_baseline(x, y) -> np.ndarray:
    u, v = x / W, y / H
    cov = np.cov(np.stack([u, v]))
    inv = np.linalg.inv(cov)
    gu = (np.arange(W) + 0.5) / W - u.mean()
    gv = (np.arange(H) + 0.5) / H - v.mean()
    q = inv[0, 0] * gu[None] ** 2 + 2 * inv[0, 1] * gu[None] * gv[:, None] + inv[1, 1] * gv[:, None] ** 2
    d = np.exp(-0.5 * q)
    return d / d.sum()


def build(osie_dir: Path, out_dir: Path, n_images: int | None = None) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    names, x, y, n, s = load_osie(osie_dir, n_images)
    base = centre_baseline(x, y)
    preds = np.lib.format.open_memmap(out_dir / "preds.npy", mode="w+", dtype=np.float32, shape=(len(names), H, W))
    gt = np.lib.format.open_memmap(out_dir / "gt.npy", mode="w+", dtype=np.float32, shape=(len(names), H, W))
    for k in range(len(names)):
        sel = n == k
        counts = np.zeros((H, W))
        np.add.at(counts, (y[sel].astype(int), x[sel].astype(int)), 1.0)
        g = gaussian_filter(counts, 24.0, mode="constant")
        gt[k] = g / g.sum()
        half = sel & (s < 8)
        c2 = np.zeros((H, W))
        np.add.at(c2, (y[half].astype(int), x[half].astype(int)), 1.0)
        p = gaussian_filter(c2, 30.0, mode="constant")
        p = p / max(p.sum(), 1e-300) + 0.02 * base
        preds[k] = p / p.sum()
    preds.flush()
    gt.flush()
    np.save(out_dir / "baseline.npy", base)
    np.savez(out_dir / "fixations.npz", x=x, y=y, n=n, subject=s)
    (out_dir / "stimuli.txt").write_text("\n".join(names) + "\n")
    return names

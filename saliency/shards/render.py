"""The maps of a shard build: per-stimulus inputs prepared once, each map rendered on a thread.

:func:`map_jobs` turns the fixation table into one :class:`MapJob` per stimulus (the selected fixations'
coordinates and weights as arrays, the counts the manifest records) with whole-table operations, so no
pandas work is left per map (except the per-stimulus weights of ``--binary``/``--duration-weighted``/
``--observer-equal``). :func:`render_maps` computes them in order on ``workers`` threads: the image check
(size, SHA-256), the blur, quantising and coding (compiled, GIL released), hashing (hashlib releases the GIL
too), so two cores work without the start-up of worker processes.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saliency.compiled import start_numba
from saliency.errors import ReaderError, SchemaError
from saliency.fixations.table import FixationTable
from saliency.maps.fusion import SeparableGaussian, normalize_map
from saliency.maps.options import MapOptions, fixation_weights
from saliency.maps.scatter import blur_points
from saliency.readers.stimuli import image_size
from saliency.shards.codec import map_sha256
from saliency.shards.schema import STORED_NORMALIZATION
from saliency.shards.u16codec import QuantizedMap, U16Scratch, encode_u16

AHEAD = 64  # maps computed ahead of the shard writer (≈ 6 MB coded uint16, 120 MB float32)


@dataclass(frozen=True)
class MapJob:
    """One map to build: where it goes (shard, key), its image, and its fixations in stimulus pixels."""

    stimulus: str
    shard: str
    key: str
    height: int
    width: int
    image: Path
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    n_fixations: int
    n_observers: int


@dataclass(frozen=True)
class RenderedMap:
    """A built map: what the shard stores (an array or a :class:`QuantizedMap`), the sum-1 density's peak,
    and its manifest row."""

    job: MapJob
    stored: np.ndarray | QuantizedMap
    scale: float
    row: dict


def map_jobs(table: FixationTable, options: MapOptions, shards: Iterable[dict]) -> list[MapJob]:
    """The jobs of the given plan shards (``{"name", "entries"}``; entries: stimulus, height, width,
    image_path), in shard then entry order; keys are the entry's position in its shard (``00000``…)."""
    shards = list(shards)
    names = {e["stimulus"] for p in shards for e in p["entries"]}
    data = table.data
    data = data[data["stimulus"].isin(names)]
    rows_of = data.groupby("stimulus", sort=False).indices
    keep = options.effective_selection.mask(data)
    x, y = data["x"].to_numpy(np.float64), data["y"].to_numpy(np.float64)
    observer = data["observer"].factorize()[0] if len(data) else np.zeros(0, np.int64)
    needs_weights = options.binary or options.duration_weighted or options.observer_equal
    none = np.zeros(0, np.int64)
    jobs = []
    for p in shards:
        for i, e in enumerate(p["entries"]):
            idx = rows_of.get(e["stimulus"], none)
            used = idx[keep[idx]]
            weights = fixation_weights(data.iloc[used], options) if needs_weights else None
            jobs.append(MapJob(e["stimulus"], p["name"], f"{i:05d}", e["height"], e["width"],
                               Path(e["image_path"]), x[used], y[used], weights, int(idx.size),
                               _n_distinct(observer[idx])))
    return jobs


def _n_distinct(codes: np.ndarray) -> int:
    """Distinct non-missing values among factorised codes (missing: −1), like ``Series.nunique()``."""
    return int(np.unique(codes[codes >= 0]).size)


class _Buffers(threading.local):
    """Per-thread scratch arrays for the quantised path, by map shape (reused: no page faults per map)."""

    def __init__(self) -> None:
        self.by_shape: dict[tuple[int, int], tuple[np.ndarray, U16Scratch]] = {}

    def get(self, h: int, w: int) -> tuple[np.ndarray, U16Scratch]:
        if (h, w) not in self.by_shape:
            self.by_shape[(h, w)] = (np.empty((h, w), np.float32), U16Scratch(h, w))
        return self.by_shape[(h, w)]


def _image_sha256(job: MapJob) -> str:
    """SHA-256 of the stimulus image, after checking that it is an image of the table's size."""
    try:
        raw = job.image.read_bytes()
    except FileNotFoundError as exc:
        raise ReaderError("stimulus image not found (check --stimuli)", path=job.image) from exc
    except OSError as exc:
        raise ReaderError(f"not a readable image ({exc})", path=job.image) from exc
    h, w = image_size(job.image, raw)
    if (h, w) != (job.height, job.width):
        raise SchemaError(f"{job.image}: image is {w}×{h} px but the fixation table says "
                          f"{job.width}×{job.height}")
    return hashlib.sha256(raw).hexdigest()


def _stored_float(raw: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, float]:
    """A freshly blurred map → (peak-normalised in ``dtype``; the sum-1 density's peak)."""
    raw = np.maximum(raw, 0.0, out=raw)
    total = float(raw.sum(dtype=np.float64))
    scale = float(raw.max(initial=0.0)) / total if total > 0 else 0.0
    return normalize_map(raw, STORED_NORMALIZATION, dtype, inplace=True), scale


def render_map(job: MapJob, blur: SeparableGaussian, dtype: np.dtype, buffers: _Buffers) -> RenderedMap:
    """Check the image, blur, quantise/code (uint16) or normalise (floats), and describe one map."""
    image_sha = _image_sha256(job)
    stored: np.ndarray | QuantizedMap
    if dtype == np.uint16:
        buf, scratch = buffers.get(job.height, job.width)
        m, total, peak = blur_points(blur, job.x, job.y, job.weights, out=buf)
        stored = encode_u16(m, total, scratch, peak)
        scale = stored.scale
    else:
        m, _, _ = blur_points(blur, job.x, job.y, job.weights)
        stored, scale = _stored_float(m, dtype)
    row = {"stimulus": job.stimulus, "image_path": str(job.image), "image_sha256": image_sha,
           "height": job.height, "width": job.width, "n_fixations": job.n_fixations,
           "n_observers": job.n_observers, "n_fixations_used": int(job.x.size), "shard": job.shard,
           "key": job.key, "map_sha256": map_sha256(stored)}
    return RenderedMap(job, stored, scale, row)


def render_maps(jobs: list[MapJob], blurs: dict[tuple[int, int], SeparableGaussian], dtype: str,
                workers: int = 1) -> Iterator[RenderedMap]:
    """The jobs' maps, in job order, computed on ``workers`` threads, at most :data:`AHEAD` maps ahead of
    the consumer (so memory stays bounded, and the threads keep working while it writes a shard). The
    first error raised by a job is raised here."""
    dt = np.dtype(dtype)
    buffers = _Buffers()
    start_numba()       # on this thread, before the workers (and without numba's scipy.linalg import)
    if workers <= 1:
        for job in jobs:
            yield render_map(job, blurs[(job.height, job.width)], dt, buffers)
        return
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="saliency-maps") as pool:
        todo = iter(jobs)
        window: collections.deque[cf.Future[RenderedMap]] = collections.deque()

        def submit() -> None:
            job = next(todo, None)
            if job is not None:
                window.append(pool.submit(render_map, job, blurs[(job.height, job.width)], dt, buffers))

        for _ in range(max(AHEAD, 2 * workers)):
            submit()
        try:
            while window:
                done = window.popleft().result()
                submit()
                yield done
        finally:
            for f in window:
                f.cancel()

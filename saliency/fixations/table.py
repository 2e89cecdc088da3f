"""The canonical fixation table: one row per fixation, every reader's output, every later stage's input.

Columns (units in names; coordinates in *stimulus* pixels, 0-based, pixel j covers x ∈ [j, j+1)):

=============  ========  ==========================================================================
column         type      meaning
=============  ========  ==========================================================================
dataset        string    dataset name (e.g. ``osie``)
stimulus       string    stimulus file name (e.g. ``1001.jpg``), a key of ``meta.stimuli``
observer       string    observer / participant id
trial          int32     trial number within the observer's recording (0 where the source has none)
index          int32     order of the fixation within the trial, 0-based
x, y           float64   fixation position, stimulus pixels, 0-based
t_start_ms     float64   fixation onset, ms from stimulus onset (NaN where the source has no time)
duration_ms    float64   fixation duration in ms (NaN where the source has none; never negative)
eye            string    ``left``, ``right``, ``mean`` (binocular average) or ``unknown``
source         string    where the row came from: ``file:line`` or ``file[record]``
=============  ========  ==========================================================================

Dataset-level metadata (:class:`DatasetMeta`: stimulus sizes, viewing geometry, pixels per degree,
coordinate origin of the source) travels with the table in the Parquet schema metadata under the key
``saliency.meta`` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from saliency.errors import SchemaError
from saliency.io import atomic_path
from saliency.units import ViewingGeometry

SCHEMA_VERSION = 1
META_KEY = b"saliency.meta"
EYES = ("left", "right", "mean", "unknown")

ARROW_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("stimulus", pa.string(), nullable=False),
        pa.field("observer", pa.string(), nullable=False),
        pa.field("trial", pa.int32(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),
        pa.field("x", pa.float64(), nullable=False),
        pa.field("y", pa.float64(), nullable=False),
        pa.field("t_start_ms", pa.float64()),
        pa.field("duration_ms", pa.float64()),
        pa.field("eye", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)
COLUMNS: tuple[str, ...] = tuple(ARROW_SCHEMA.names)
_PANDAS_DTYPES = {
    "dataset": "object", "stimulus": "object", "observer": "object", "trial": "int32", "index": "int32",
    "x": "float64", "y": "float64", "t_start_ms": "float64", "duration_ms": "float64", "eye": "object",
    "source": "object",
}
SORT_KEYS = ["dataset", "stimulus", "observer", "trial", "index"]


@dataclass(frozen=True)
class StimulusInfo:
    """A stimulus image: its name (the table's ``stimulus`` key), size in pixels and where it lies."""

    name: str
    width_px: int
    height_px: int
    path: str | None = None

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise SchemaError(f"stimulus {self.name!r}: size must be positive, got {self.width_px}×{self.height_px}")


@dataclass(frozen=True)
class DatasetMeta:
    """What a fixation table needs to be interpreted: stimulus sizes, geometry, coordinate conventions."""

    name: str
    stimuli: Mapping[str, StimulusInfo]
    geometry: ViewingGeometry | None = None
    pixels_per_degree: float | None = None
    coordinate_origin: str = "0-based pixel corners"
    source_format: str = ""
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ppd(self) -> float | None:
        """Pixels per degree: the explicit value, else the one derived from the geometry, else None."""
        if self.pixels_per_degree is not None:
            return self.pixels_per_degree
        return self.geometry.pixels_per_degree if self.geometry is not None else None

    def to_json(self) -> str:
        d = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "stimuli": {k: {"width_px": s.width_px, "height_px": s.height_px, "path": s.path}
                        for k, s in sorted(self.stimuli.items())},
            "geometry": self.geometry.to_dict() if self.geometry is not None else None,
            "pixels_per_degree": self.pixels_per_degree,
            "coordinate_origin": self.coordinate_origin,
            "source_format": self.source_format,
            "notes": dict(self.notes),
        }
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetMeta:
        d = json.loads(text)
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SchemaError(f"fixation table metadata has schema_version {version!r}, expected {SCHEMA_VERSION}")
        return cls(
            name=d["name"],
            stimuli={k: StimulusInfo(k, int(v["width_px"]), int(v["height_px"]), v.get("path"))
                     for k, v in d["stimuli"].items()},
            geometry=ViewingGeometry.from_dict(d["geometry"]) if d.get("geometry") else None,
            pixels_per_degree=d.get("pixels_per_degree"),
            coordinate_origin=d.get("coordinate_origin", ""),
            source_format=d.get("source_format", ""),
            notes=d.get("notes") or {},
        )


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _PANDAS_DTYPES.items()})


def coerce_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Select and cast the canonical columns (raises :class:`SchemaError` naming missing ones)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(f"fixation table lacks columns {missing}; expected {list(COLUMNS)}")
    out = df.loc[:, list(COLUMNS)].copy()
    for c, t in _PANDAS_DTYPES.items():
        out[c] = out[c].astype(str) if t == "object" else out[c].astype(t)
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class FixationTable:
    """A validated fixation table plus its dataset metadata. Construct with :meth:`from_frame`."""

    data: pd.DataFrame
    meta: DatasetMeta

    @classmethod
    def from_frame(cls, df: pd.DataFrame, meta: DatasetMeta, *, sort: bool = True) -> FixationTable:
        frame = coerce_frame(df)
        if sort and len(frame):
            frame = frame.sort_values(SORT_KEYS, kind="stable").reset_index(drop=True)
        table = cls(frame, meta)
        table.validate()
        return table

    def __len__(self) -> int:
        return len(self.data)

    def validate(self) -> None:
        """Check every invariant; the error names the first offending row's ``source``."""
        df = self.data

        def fail(mask: np.ndarray, what: str) -> None:
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                raise SchemaError(f"{df['source'].iat[i]}: {what} (row {i}, {int(mask.sum())} rows in all)")

        fail(~np.isfinite(df["x"].to_numpy()) | ~np.isfinite(df["y"].to_numpy()), "x and y must be finite numbers")
        dur = df["duration_ms"].to_numpy()
        fail(dur < 0, "duration_ms must not be negative")
        fail(~df["eye"].isin(EYES).to_numpy(), f"eye must be one of {EYES}")
        # sizes per distinct stimulus, gathered by code (Series.map of a dict is ~10× slower on 100k rows)
        codes, names = pd.factorize(df["stimulus"])          # missing → −1, which picks the NaN appended last
        info = [self.meta.stimuli.get(n) for n in names]
        fail((codes < 0) | ~np.array([i is not None for i in info] + [False])[codes],
             "stimulus is not listed in the dataset metadata")
        if len(df):
            w = np.array([i.width_px for i in info] + [np.nan], float)[codes]
            h = np.array([i.height_px for i in info] + [np.nan], float)[codes]
            x, y = df["x"].to_numpy(), df["y"].to_numpy()
            fail((x < 0) | (y < 0) | (x >= w) | (y >= h),
                 "fixation lies outside the stimulus (expected 0 ≤ x < width, 0 ≤ y < height)")

    # ---- I/O ---------------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        table = pa.Table.from_pandas(self.data, schema=ARROW_SCHEMA, preserve_index=False)
        return table.replace_schema_metadata({META_KEY: self.meta.to_json().encode()})

    def write_parquet(self, path: str | Path) -> Path:
        """Write atomically; the same table gives the same bytes on every run."""
        path = Path(path)
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp, compression="zstd", write_statistics=True,
                           use_dictionary=["dataset", "stimulus", "observer", "eye"])
        return path

    @classmethod
    def read_parquet(cls, path: str | Path) -> FixationTable:
        path = Path(path)
        try:
            with pq.ParquetFile(path) as fh:  # one file: no pyarrow.dataset import
                table = fh.read()
        except (OSError, pa.ArrowInvalid) as exc:
            raise SchemaError(f"{path}: not a readable Parquet fixation table ({exc})") from exc
        meta_raw = (table.schema.metadata or {}).get(META_KEY)
        if meta_raw is None:
            raise SchemaError(f"{path}: Parquet file has no {META_KEY.decode()!r} metadata; "
                              "expected a fixation table written by saliency")
        return cls.from_frame(table.to_pandas(), DatasetMeta.from_json(meta_raw), sort=False)

    # ---- views -------------------------------------------------------------------------------
    def stimuli(self) -> list[str]:
        return sorted(self.meta.stimuli)

    def for_stimulus(self, name: str) -> pd.DataFrame:
        return self.data[self.data["stimulus"] == name]

    def select_stimuli(self, names: Iterable[str]) -> FixationTable:
        """The table restricted to ``names`` (rows and metadata); an unknown name is a KeyError naming it."""
        keep = list(names)
        meta = dataclasses.replace(self.meta, stimuli={k: self.meta.stimuli[k] for k in keep})
        return FixationTable.from_frame(self.data[self.data["stimulus"].isin(keep)], meta)

    def observers(self) -> list[str]:
        return sorted(self.data["observer"].unique().tolist())


def concat_tables(tables: Iterable[FixationTable], meta: DatasetMeta | None = None) -> FixationTable:
    """Concatenate tables of one dataset; metadata is merged (stimuli united) unless given."""
    tables = list(tables)
    if not tables:
        raise SchemaError("nothing to concatenate: no fixation tables given")
    if meta is None:
        stimuli: dict[str, StimulusInfo] = {}
        for t in tables:
            for k, s in t.meta.stimuli.items():
                if k in stimuli and (stimuli[k].width_px, stimuli[k].height_px) != (s.width_px, s.height_px):
                    raise SchemaError(f"stimulus {k!r} has two sizes: {stimuli[k].width_px}×{stimuli[k].height_px}"
                                      f" and {s.width_px}×{s.height_px}")
                stimuli.setdefault(k, s)
        base = tables[0].meta
        meta = DatasetMeta(base.name, stimuli, base.geometry, base.pixels_per_degree, base.coordinate_origin,
                           base.source_format, base.notes)
    return FixationTable.from_frame(pd.concat([t.data for t in tables], ignore_index=True), meta)

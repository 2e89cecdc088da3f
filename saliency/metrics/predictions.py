"""Read saliency-map predictions from disk as a lazy mapping stimulus → (H, W) map: float32 files stay
float32 (the metrics accumulate in float64 either way), anything else becomes float64.

Sources: a folder of ``.png``/``.jpg``, ``.npy`` or ``.npz`` (first array) files named like the stimuli
(``1001.jpg`` → ``1001.png`` / ``1001.npy`` / ``1001.jpg.npy``), or an HDF5 file as exported by pysaliency
(``export_model_to_hdf5``: one dataset per stimulus, keyed by file name), read with h5py. Nothing is
unpickled. A trained checkpoint is a prediction source too, one layer up:
:func:`saliency.evaluation.predictions.load_predictions` (it runs the model).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from saliency.errors import SchemaError

_SUFFIXES = (".npy", ".npz", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _read_file(path: Path) -> np.ndarray:
    """One map file as an (H, W) float32 (float32 files) or float64 array; anything unreadable is a :class:`SchemaError` naming it
    (random bytes, object arrays — never unpickled —, strings, truncated archives, broken images)."""
    try:
        return _read_file_unchecked(path)
    except SchemaError:
        raise
    except (ValueError, TypeError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise SchemaError(f"{path}: not a readable saliency map ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _read_file_unchecked(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        a = _read_npy(path)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if not z.files:
                raise SchemaError(f"{path}: empty .npz archive")
            a = z[z.files[0]]
    else:
        from PIL import Image

        with Image.open(path) as im:
            a = np.asarray(im.convert("F") if im.mode not in ("L", "I;16", "I", "F") else im)
    # float32 files stay float32 (the metrics read them without a float64 copy and accumulate in float64)
    a = np.asarray(a, dtype=np.float32 if a.dtype == np.float32 else np.float64)
    if a.ndim == 3 and a.shape[-1] in (1, 3, 4):
        a = a[..., :3].mean(axis=-1) if a.shape[-1] >= 3 else a[..., 0]
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise SchemaError(f"{path}: expected a 2-D saliency map, got shape {a.shape}")
    return a


_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADERS: dict[bytes, tuple[tuple[int, ...], bool, np.dtype]] = {}   # header bytes → (shape, fortran, dtype)


def _read_npy(path: Path) -> np.ndarray:
    """``np.load(path, allow_pickle=False)`` of an ``.npy`` file, the header parsed once per distinct header
    (numpy parses it with ``ast`` every time, ≈ 40 µs; a folder of maps of one size shares one header).
    Object arrays are refused, never unpickled; a short file is a ValueError."""
    with open(path, "rb") as f:
        start = f.read(10)
        if start[:6] != _NPY_MAGIC:   # numpy would call it "pickled data": say what it is not
            raise ValueError("not a .npy file: it does not start with the \\x93NUMPY magic")
        if len(start) < 10 or start[6] not in (1, 2):
            return np.load(path, allow_pickle=False)          # anything unusual: numpy's own reader
        n = 2 if start[6] == 1 else 4
        start += f.read(n - 2)
        key = start + f.read(int.from_bytes(start[8:8 + n], "little"))
        parsed = _NPY_HEADERS.get(key)
        if parsed is None:
            f.seek(0)
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            if dtype.hasobject:
                raise ValueError("object arrays are not read (they would need unpickling)")
            parsed = _NPY_HEADERS.setdefault(key, (shape, fortran, dtype))
        shape, fortran, dtype = parsed
        count = math.prod(shape)
        a = np.fromfile(f, dtype=dtype, count=count)
    if a.size != count:
        raise ValueError(f"file holds {a.size} of its {count} values")
    return a.reshape(shape[::-1]).transpose() if fortran else a.reshape(shape)


class FolderPredictions(Mapping[str, np.ndarray]):
    """Maps named like the stimuli in a folder."""

    def __init__(self, folder: str | Path, stimuli: list[str]) -> None:
        self.folder = Path(folder)
        names = {p.name: p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES}
        self._paths: dict[str, Path] = {}
        for s in stimuli:
            stem = Path(s).stem
            cands = [s + ".npy", s + ".npz", *[stem + suf for suf in _SUFFIXES]]
            for c in cands:
                if c in names and c != s:  # never the stimulus image itself
                    self._paths[s] = names[c]
                    break
        if not self._paths:
            raise SchemaError(f"{self.folder}: no prediction files named like the stimuli "
                              f"(e.g. {stimuli[0] if stimuli else '?'} → {Path(stimuli[0]).stem if stimuli else '?'}.png)")

    def __getitem__(self, s: str) -> np.ndarray:
        try:
            return _read_file(self._paths[s])
        except KeyError:
            raise KeyError(s) from None

    def __contains__(self, s: object) -> bool:   # Mapping's default would read the file
        return s in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class HDF5Predictions(Mapping[str, np.ndarray]):
    """pysaliency HDF5 export: datasets keyed by stimulus file name (or its stem)."""

    def __init__(self, path: str | Path, stimuli: list[str]) -> None:
        import h5py

        self.path = Path(path)
        keys: list[str] = []
        try:
            with h5py.File(self.path, "r") as f:
                f.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset) else None)
        except (OSError, ValueError) as exc:
            raise SchemaError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        by_name: dict[str, str] = {}
        for k in keys:
            base = k.rsplit("/", 1)[-1]
            by_name.setdefault(k, k)
            by_name.setdefault(base, k)
            by_name.setdefault(Path(base).stem, k)
        self._keys = {s: by_name[c] for s in stimuli for c in (s, Path(s).stem) if c in by_name}
        if not self._keys:
            raise SchemaError(f"{self.path}: no dataset named like the stimuli ({len(keys)} datasets, e.g. "
                              f"{keys[:3]}; expected e.g. {stimuli[:1]}, as pysaliency's export_model_to_hdf5 writes)")

    def __getitem__(self, s: str) -> np.ndarray:
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                a = np.asarray(f[self._keys[s]], dtype=np.float64)
        except (OSError, ValueError, TypeError) as exc:
            raise SchemaError(f"{self.path}[{self._keys[s]}]: not a numeric map ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from exc
        if a.ndim != 2:
            raise SchemaError(f"{self.path}[{self._keys[s]}]: expected a 2-D map, got shape {a.shape}")
        return a

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, s: object) -> bool:   # Mapping's default would read the dataset
        return s in self._keys

    def __len__(self) -> int:
        return len(self._keys)


def read_predictions(path: str | Path, stimuli: list[str]) -> Mapping[str, np.ndarray]:
    """A folder of maps or a pysaliency HDF5 file → lazy mapping stimulus → map."""
    p = Path(path)
    if p.is_dir():
        return FolderPredictions(p, stimuli)
    if not p.exists():
        raise SchemaError(f"predictions not found: {p}")
    if p.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        return HDF5Predictions(p, stimuli)
    raise SchemaError(f"{p}: predictions must be a folder of PNG/NPY/NPZ maps or an HDF5 file (.h5/.hdf5)")

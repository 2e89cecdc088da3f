"""The seal of a shard set: a checksum over ``meta.json`` itself, and loading meta/manifest with clear errors.

``meta.json`` records the checksums of the manifest, the fixations and every shard, but also what the
maps *mean* (σ, options, dtype). Its own checksum, ``meta_sha256``, is the SHA-256 of the canonical JSON
(sorted keys, no spaces) of every other key; so changing σ 24 → 12, or re-sealing a manifest whose map keys
were swapped between stimuli (which changes ``manifest_sha256``), no longer passes. A set written before
the seal existed has no ``meta_sha256``: it stays readable, and ``saliency verify`` reports it as unsealed
(exit 1) naming ``saliency maps --rebuild``.

The map-key ↔ stimulus binding is checked a second, independent way: each shard's sidecar
(``maps/NNNNN.json``) lists the manifest rows written with it; ``verify`` compares them with the manifest
(and the sidecars' own bytes with ``sidecar_sha256`` in the sealed meta).

Every failure to load is a :class:`ChecksumError` (damage: ``verify`` exits 1, other commands 3) or a
:class:`SchemaError` naming the file — never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from saliency.errors import ChecksumError, SchemaError

SEAL_KEY = "meta_sha256"
REQUIRED_META_KEYS = ("schema_version", "manifest_sha256", "fixations_sha256", "shards", "format", "sigma_px")
REBUILD_HINT = "rebuild it with `saliency maps ... --rebuild`"


def meta_checksum(meta: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``meta`` without its seal."""
    body = {k: v for k, v in meta.items() if k != SEAL_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                                     allow_nan=True).encode()).hexdigest()


def sealed(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with its seal added (the last key written)."""
    return {**{k: v for k, v in meta.items() if k != SEAL_KEY}, SEAL_KEY: meta_checksum(meta)}


def load_meta(root: Path, meta_file: str) -> dict[str, Any]:
    """Read and check ``meta.json``: a JSON object with the required keys and, when sealed, a matching seal."""
    path = root / meta_file
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaError(f"{path}: no shard set here (meta.json missing: the build did not finish; "
                          "re-run `saliency maps` to resume)") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ChecksumError(f"{path}: not valid JSON ({exc}); the shard set is damaged, {REBUILD_HINT}") from exc
    except OSError as exc:
        raise ChecksumError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not isinstance(meta, dict):
        raise ChecksumError(f"{path}: a JSON {type(meta).__name__}, expected an object; the shard set is "
                            f"damaged, {REBUILD_HINT}")
    missing = [k for k in REQUIRED_META_KEYS if k not in meta]
    if missing:
        raise ChecksumError(f"{path}: lacks {missing}; the shard set is damaged, {REBUILD_HINT}")
    if not isinstance(meta["shards"], dict):
        raise ChecksumError(f"{path}: 'shards' is not an object; the shard set is damaged, {REBUILD_HINT}")
    if SEAL_KEY in meta and meta[SEAL_KEY] != meta_checksum(meta):
        raise ChecksumError(f"{path}: its content does not match its meta_sha256 (σ, options or checksums "
                            f"were changed after the build); {REBUILD_HINT}")
    return meta


def load_manifest(root: Path, manifest_file: str, meta: dict[str, Any]) -> pd.DataFrame:
    """Read ``manifest.parquet`` after checking it against ``meta['manifest_sha256']``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from saliency.io import sha256_file

    path = root / manifest_file
    if not path.is_file():
        raise ChecksumError(f"{path}: missing; the shard set is incomplete, {REBUILD_HINT}")
    if sha256_file(path) != meta["manifest_sha256"]:
        raise ChecksumError(f"{path}: checksum differs from meta.json; the manifest is corrupt")
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise ChecksumError(f"{path}: not a readable Parquet file ({exc})") from exc


def binding_problems(root: Path, meta: dict[str, Any], manifest: pd.DataFrame,
                     sidecar_file: Any) -> dict[str, str]:
    """Problems where a shard's sidecar rows disagree with the manifest on stimulus ↔ (shard, key, map_sha256)."""
    problems: dict[str, str] = {}
    want = {(r.stimulus, r.shard, r.key, r.map_sha256) for r in manifest.itertuples()}
    from saliency.io import sha256_file

    recorded = meta.get("sidecar_sha256") or {}
    for name in sorted(meta["shards"]):
        side = root / sidecar_file(name)
        if name in recorded and side.is_file() and sha256_file(side) != recorded[name]:
            problems[sidecar_file(name)] = "checksum differs from meta.json (the shard's sidecar is damaged)"
            continue
        try:
            doc = json.loads(side.read_text(encoding="utf-8"))
            rows = {(r["stimulus"], r["shard"], r["key"], r["map_sha256"]) for r in doc["rows"]}
        except FileNotFoundError:
            continue  # reported as a missing sidecar by verify
        except (ValueError, KeyError, TypeError, OSError) as exc:
            problems[sidecar_file(name)] = f"sidecar unreadable ({type(exc).__name__}: {exc})"
            continue
        mine = {w for w in want if w[1] == name}
        if rows != mine:
            bad = sorted({r[0] for r in rows ^ mine})[:5]
            problems[sidecar_file(name)] = (f"map keys of {bad} differ between the manifest and the shard's "
                                            "sidecar (stimulus ↔ map binding broken)")
    return problems


def remove_shard_set(root: Path) -> None:
    """Delete what a shard build writes in ``root`` (meta, manifest, fixations, ``maps/NNNNN.*``) so that
    ``saliency maps --rebuild`` builds from scratch instead of trusting files that verify against a damaged
    or unsealed meta. Other files in ``root`` are left alone."""
    import re

    from saliency.shards.schema import FIXATIONS_FILE, MANIFEST_FILE, MAPS_DIR, META_FILE

    root = Path(root)
    (root / META_FILE).unlink(missing_ok=True)  # first: the set stops being a set at once
    for name in (MANIFEST_FILE, FIXATIONS_FILE):
        (root / name).unlink(missing_ok=True)
    maps = root / MAPS_DIR
    if maps.is_dir():
        ours = re.compile(r"^\.?\d{5}\.(npz|parquet|json)(\..*\.tmp)?$")
        for p in maps.iterdir():
            if p.is_file() and ours.match(p.name):
                p.unlink()

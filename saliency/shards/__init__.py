"""Checksummed, resumable storage of ground-truth maps: build with :func:`build_shards`,
read with :func:`open_shards`."""

from saliency.shards.reader import GroundTruth, ShardSet, VerifyReport, open_shards
from saliency.shards.schema import FORMATS, SCHEMA_VERSION
from saliency.shards.writer import BuildResult, build_shards, finalize_shards

__all__ = ["FORMATS", "SCHEMA_VERSION", "BuildResult", "GroundTruth", "ShardSet", "VerifyReport",
           "build_shards", "finalize_shards", "open_shards"]

"""One error hierarchy for the whole library.

Library code raises these (never prints, never calls ``sys.exit``); the CLI maps them to exit codes:
0 ok, 1 a gate failed, 2 usage, 3 bad data or config, 4 unexpected.
Every message names the bad place (file, line, record, key) and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class SaliencyError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code: int = 3


class ReaderError(SaliencyError):
    """A recording could not be read: names the file, the line or record, and what was expected."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 record: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f":{line}"
            if record is not None:
                where += f" [{record}]"
            where += ": "
        super().__init__(where + message)
        self.reason = message


class SchemaError(SaliencyError):
    """A table, shard or manifest does not have the expected columns, types or values."""


class ChecksumError(SaliencyError):
    """Stored bytes do not match the checksum recorded for them."""


class ConfigError(SaliencyError):
    """A configuration value is missing, of the wrong type, or out of range."""


class UnknownNameError(SaliencyError, KeyError):
    """A name looked up in a registry does not exist; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class GateFailed(SaliencyError):
    """A check the user asked for did not pass (e.g. ``saliency verify`` found corrupt shards)."""

    exit_code = 1


class FolderBusy(SaliencyError):
    """Another process holds the folder's lock (e.g. a second ``saliency run`` on the same run folder)."""

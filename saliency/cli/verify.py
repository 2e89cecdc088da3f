"""``saliency verify``: check a shard set against its manifest; exit 1 naming any corrupt file."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 21


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(
    shards: Path = typer.Argument(..., help="Shard folder (outputs/<dataset>/shards).", file_okay=False),
    deep: bool = typer.Option(False, "--deep", help="Also decode every map and check its map_sha256."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check every shard (and the fixation table) against the checksums recorded at build time."""
    from saliency.cli.common import console, print_json
    from saliency.errors import ChecksumError, GateFailed
    from saliency.shards import open_shards

    try:
        report = open_shards(shards).verify(deep=deep)
    except ChecksumError as exc:
        raise GateFailed(f"{shards}: {exc}") from exc
    if json_out:
        print_json({"root": str(report.root), "ok": report.ok, "checked_shards": report.checked,
                    "problems": report.problems})
    else:
        c = console()
        for where, what in sorted(report.problems.items()):
            c.print(f"CORRUPT {where}: {what}", style="red")
        if report.ok:
            c.print(f"ok {report.checked} shards verified in {report.root}")
    if not report.ok:
        raise GateFailed(f"{len(report.problems)} corrupt or missing file(s) in {shards}: "
                         + ", ".join(sorted(report.problems)) + "; re-run `saliency maps` to rebuild them")

"""``saliency datasets list | info NAME | fetch NAME [--to DIR]``: the public dataset catalogue."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

ORDER = 5

_CATALOGUE = typer.Option(None, "--catalogue", help="Another catalogue TOML (a mirror; default data/catalogue.toml).")


def _progress_callbacks(quiet: bool):
    """(on_file, on_progress, close): a rich bar on a terminal, plain log lines (every 10 %) otherwise."""
    from saliency.cli.common import err_console

    con = err_console()
    if quiet:
        return None, None, lambda: None
    if sys.stderr.isatty():
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       console=con)
        bar.start()
        state: dict = {}

        def on_file(i: int, n: int, url: str) -> None:
            state["task"] = bar.add_task(f"{i + 1}/{n} {Path(url.split('?')[0]).name}", total=None)

        def on_progress(done: int, total: int | None) -> None:
            bar.update(state["task"], completed=done, total=total)

        return on_file, on_progress, bar.stop
    last = {"decile": -1, "t": time.monotonic()}

    def on_file_log(i: int, n: int, url: str) -> None:
        last["decile"] = -1
        con.print(f"download {i + 1}/{n}: {url}", highlight=False, markup=False)

    def on_progress_log(done: int, total: int | None) -> None:
        if total:
            d = int(10 * done / total)
            if d != last["decile"]:
                last["decile"] = d
                con.print(f"  {done:,} / {total:,} bytes ({100 * done / total:.0f} %)", highlight=False)
        elif time.monotonic() - last["t"] > 10:
            last["t"] = time.monotonic()
            con.print(f"  {done:,} bytes", highlight=False)

    return on_file_log, on_progress_log, lambda: None


def register(app: typer.Typer) -> None:
    ds = typer.Typer(help="Public fixation and salient-object datasets: list, describe, fetch (verified, resumable).",
                     no_args_is_help=True)
    app.add_typer(ds, name="datasets")

    @ds.command("list")
    def list_cmd(catalogue: Path | None = _CATALOGUE,
                 json_out: bool = typer.Option(False, "--json", help="Print the catalogue as JSON.")) -> None:
        """One line per dataset: kind, reader, whether it can be fetched and verified."""
        from rich.table import Table

        from saliency.catalogue import load_catalogue
        from saliency.cli.common import console, print_json

        cat = load_catalogue(catalogue)
        if json_out:
            print_json([e.to_dict() for e in cat.values()])
            return
        t = Table(title="dataset catalogue (saliency datasets info NAME for sources, licence, citation)")
        for c in ("name", "kind", "reader", "fetch", "title"):
            t.add_column(c)
        for e in cat.values():
            how = ("no: " + e.not_fetchable.split(";")[0][:40]) if not e.fetchable else (
                "needs --allow-unverified" if e.unverified else "yes (MD5; SHA-256 unknown)" if all(
                    f.sha256 is None for f in e.files) else "yes (SHA-256)")
            t.add_row(e.name, e.kind, e.reader, how, e.title)
        console().print(t)

    @ds.command("info")
    def info_cmd(name: str = typer.Argument(..., help="Dataset name (saliency datasets list)."),
                 catalogue: Path | None = _CATALOGUE,
                 json_out: bool = typer.Option(False, "--json", help="Print the entry as JSON.")) -> None:
        """Sources (URL, size, checksums), licence, citation, reader and notes of one dataset."""
        from saliency.catalogue import cache_root, get_entry, load_catalogue
        from saliency.cli.common import console, print_json

        e = get_entry(name, load_catalogue(catalogue))
        if json_out:
            print_json(e.to_dict() | {"cache": str(cache_root() / e.name)})
            return
        c = console()
        c.print(f"[bold]{e.name}[/bold]: {e.title}", highlight=False)
        for k, v in (("kind", e.kind), ("page", e.page), ("licence", e.licence), ("citation", e.citation),
                     ("reader", e.reader + ("" if e.reader_path == "." else f" (folder {e.reader_path})")),
                     ("card", e.card or "none"), ("facts from", e.facts_from), ("cache", cache_root() / e.name)):
            c.print(f"  {k}: {v}", highlight=False, markup=False)
        for f in e.files:
            size = f"{f.size:,} bytes" if f.size is not None else "size unknown"
            c.print(f"  file: {f.url}\n        {size}; {f.checksums_text()}"
                    + ("" if f.verifiable else " (no checksum known: fetch needs --allow-unverified)"),
                    highlight=False, markup=False)
        if not e.fetchable:
            c.print(f"  not fetchable: {e.not_fetchable}", highlight=False, markup=False)
        if e.notes:
            c.print(f"  notes: {e.notes}", highlight=False, markup=False)

    @ds.command("fetch")
    def fetch_cmd(
        name: str = typer.Argument(..., help="Dataset name (saliency datasets list)."),
        to: Path | None = typer.Option(None, "--to", help="Folder to put <name>/ in [default: $SALIENCY_DATA, "
                                       "else the user cache dir]."),
        allow_unverified: bool = typer.Option(False, "--allow-unverified",
                                              help="Fetch files the catalogue has no checksum for."),
        ingest_too: bool = typer.Option(False, "--ingest", help="Then read it with its reader into "
                                        "outputs/<name>/ (saliency ingest)."),
        catalogue: Path | None = _CATALOGUE,
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Download (resuming an interrupted download), verify the checksums, unpack into the cache, name the
        reader. Nothing is fetched again when the folder's record lists the same files."""
        from saliency.catalogue import fetch, get_entry, load_catalogue
        from saliency.cli.common import console, print_json
        from saliency.errors import ConfigError

        e = get_entry(name, load_catalogue(catalogue))
        on_file, on_progress, close = _progress_callbacks(json_out)
        try:
            res = fetch(e, to, allow_unverified=allow_unverified, on_file=on_file, on_progress=on_progress)
        finally:
            close()
        out = {"dataset": e.name, "folder": str(res.folder), "cached": res.cached, "files": res.files,
               "reader": e.reader, "reader_path": str(res.reader_path)}
        if ingest_too:
            if e.reader in ("none", "sod"):
                raise ConfigError(f"{e.name}: no fixation reader reads this download ({e.reader}); see "
                                  f"`saliency datasets info {e.name}`")
            from saliency.ingest import ingest

            r = ingest(e.reader, [res.reader_path], dataset=e.card or e.name)
            out["ingested"] = str(r.out_dir)
        if json_out:
            print_json(out)
            return
        c = console()
        c.print(f"{e.name}: {'already fetched' if res.cached else 'fetched'} → {res.folder}", highlight=False)
        for f in res.files:
            c.print(f"  {f['file']}: {f['bytes']:,} bytes, sha256 {f['sha256']} (verified by {f['verified_by']})",
                    highlight=False, markup=False)
        if "ingested" in out:
            c.print(f"  ingested → {out['ingested']}", highlight=False)
        elif e.reader not in ("none", "sod"):
            c.print(f"  read it with: saliency ingest {e.reader} {res.reader_path} --dataset {e.card or e.name}",
                    highlight=False, markup=False)
        elif e.reader == "sod":
            c.print(f"  score against it with: saliency evaluate PREDICTIONS --sod {res.reader_path}",
                    highlight=False, markup=False)
        else:
            c.print("  no reader here reads this layout yet (saliency datasets info for notes)", highlight=False)

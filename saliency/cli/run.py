"""``saliency run PIPELINE.toml``: recordings → report in one command, cached per stage."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 90


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        pipeline: Path = typer.Argument(..., help="Pipeline file (e.g. pipelines/osie.toml)."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's \\[quick] table: minutes on a CPU."),
        only: list[str] = typer.Option([], "--only", help="Run just this stage (repeatable), even if cached."),
        force: list[str] = typer.Option([], "--force", help="Re-run this stage (repeatable) even if cached."),
        out: Path | None = typer.Option(None, "--out", help="Output directory (default runs/<name>[-quick])."),
        set_: list[str] = typer.Option([], "--set", help="Override a setting: STAGE.KEY=VALUE (TOML value)."),
        data_root: Path | None = typer.Option(None, "--data-root", help="Folder holding the datasets."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run and why; run nothing."),
        fetch: bool = typer.Option(False, "--fetch", help="Fetch the dataset from the catalogue when its folder "
                                   "is missing (saliency datasets fetch; verified, cached)."),
        allow_unverified: bool = typer.Option(False, "--allow-unverified", help="With --fetch: also files the "
                                              "catalogue has no checksum for."),
        json_out: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    ) -> None:
        """Run a pipeline: ingest → maps → baselines → train → evaluate → report (cached per stage)."""
        from saliency.cli.common import console, err_console, print_json
        from saliency.pipeline import load_pipeline, run_pipeline
        from saliency.pipeline.stages import stages_for

        spec = load_pipeline(pipeline, quick=quick, overrides=set_, out=out, data_root=data_root)
        log = (lambda _m: None) if json_out else (lambda m: err_console().print(m, highlight=False, markup=False))
        if fetch:
            from saliency.pipeline.fetching import ensure_dataset

            spec = ensure_dataset(spec, allow_unverified=allow_unverified, log=log)
        rep = run_pipeline(spec, stages_for(spec), only=only, force=force, dry_run=dry_run, log=log,
                           show_progress=not json_out)
        if json_out:
            print_json(rep.to_dict())
            return
        from rich.table import Table

        t = Table(title=f"{spec.name}{' (quick)' if spec.quick else ''} → {spec.out}")
        for c in ("stage", "status", "why", "seconds"):
            t.add_column(c)
        for o in rep.outcomes:
            t.add_row(o.name, o.status, o.reason, f"{o.duration_s:.1f}" if o.status == "ran" else "")
        console().print(t)
        html = spec.out / "report" / "report.html"
        if html.is_file() and not dry_run:
            console().print(f"report: {html}")

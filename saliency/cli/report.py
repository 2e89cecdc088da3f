"""``saliency report RUN_DIR``: a self-contained HTML report of a pipeline or training run."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 91


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        run_dir: Path = typer.Argument(..., help="A pipeline output directory or a training run directory."),
        out: Path | None = typer.Option(None, "--out", "-o", help="HTML file (default <run>/report/report.html)."),
        gallery: int = typer.Option(3, "--gallery", help="Images in each of the best and worst rows (0: none)."),
        rank_by: str | None = typer.Option(None, "--rank-by", help="Per-image metric ranking the gallery "
                                           "(default NSS; MAE for SOD)."),
        title: str | None = typer.Option(None, "--title", help="Report title."),
    ) -> None:
        """Write an HTML report: metrics vs baselines, training curves, best/worst galleries, ingest."""
        from saliency.cli.common import console
        from saliency.reports import build_report

        path = build_report(run_dir, out, gallery_k=gallery, rank_by=rank_by, title=title)
        console().print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")

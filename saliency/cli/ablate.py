"""``saliency ablate CONFIG.toml [--set key=value ...] [--mechanisms none,se,cbam] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 62


def register(app: typer.Typer) -> None:
    @app.command("ablate")
    def ablate_cmd(
        config: Path | None = typer.Argument(None, exists=True, dir_okay=False,
                                             help="TOML recipe (pipelines/configs/)."),
        set_: list[str] = typer.Option([], "--set", help="Override a recipe key: --set train.epochs=3 (repeatable)."),
        mechanisms: str = typer.Option("", "--mechanisms", "-m",
                                       help="Comma-separated mechanisms (default: all; --list shows them)."),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default <runs_dir>/<name>)."),
        figure_images: int = typer.Option(4, "--figure-images", min=0, help="Test images in attention.png."),
        list_: bool = typer.Option(False, "--list", help="List the mechanisms and exit."),
        json_out: bool = typer.Option(False, "--json", help="Print the table as JSON."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Train the same recipe once per attention mechanism (and without attention); compare them.

        Same data, split, seed, schedule and epochs for every row; only the model's attention changes.
        Writes ablation.md/.csv/.json (parameters, multiply-adds, CPU latency at 288×384, AUC, sAUC, NSS,
        CC, KL, SIM and the centre-bias → gold-standard NSS gap closed, per scored dataset) and
        attention.png. Resumable: finished mechanisms are not trained again.
        """
        from rich.table import Table

        from saliency.cli.common import console, err_console, print_json
        from saliency.cli.tables import print_table
        from saliency.reports.ablation import METRIC_COLUMNS, table_text_rows, write_ablation_report
        from saliency.training import load_config
        from saliency.training.ablation import DEFAULT_MECHANISMS, MECHANISMS, run_ablation

        if list_:
            listing = Table("mechanism", "what", "where", title="attention mechanisms (saliency ablate -m)")
            for name in DEFAULT_MECHANISMS:
                m = MECHANISMS.get(name)
                listing.add_row(name, m.description, m.where)
            console().print(listing)
            return
        if config is None:
            raise typer.BadParameter("a recipe is required (e.g. pipelines/configs/ablation_cpu.toml)",
                                     param_hint="CONFIG")
        cfg = load_config(config, set_)
        names = [m.strip() for m in mechanisms.split(",") if m.strip()] or None
        log = err_console()

        def on_start(i: int, n: int, name: str, status: str) -> None:
            if not json_out:
                log.print(f"[{i + 1}/{n}] {name}: {status}")

        res = run_ablation(cfg, mechanisms=names, out=out, show_progress=not quiet and not json_out,
                           on_start=on_start)
        write_ablation_report(res, cfg, figure_images=figure_images)
        if json_out:
            import json

            print_json(json.loads(res.files["json"].read_text()))
            return
        heads, cells = table_text_rows(res)
        c = console()
        # one table per scored dataset (cost columns with the first), so it fits a terminal
        per_ds = len(METRIC_COLUMNS) + 1  # the metrics and the gap closed
        groups = [[0, 1, 2, 3]] + [[0, *range(4 + per_ds * k, 4 + per_ds * (k + 1))]
                                   for k in range(len(res.datasets))]
        hw = res.rows[0].get("latency_hw", [288, 384]) if res.rows else [288, 384]
        titles = [f"cost ({hw[0]}×{hw[1]}, batch 1)", *res.datasets]
        for idx, what in zip(groups, titles, strict=True):
            cols = [heads[j].split(" ", 1)[-1] if j >= 4 else heads[j] for j in idx[1:]]
            print_table(f"attention ablation · {cfg.name} · seed {res.seed} · {what}", [row[0] for row in cells],
                        cols, [[row[j] for j in idx[1:]] for row in cells], corner=heads[0])
        for ds in res.datasets:
            b = res.baselines.get(ds)
            if b:
                c.print(f"  {ds}: centre bias NSS {b['centre_gaussian_nss']:.3f}, gold standard NSS "
                        f"{b['gold_standard_nss']:.3f} ({b['n_images']} images)", highlight=False)
        for k, p in res.files.items():
            c.print(f"  {k}: {p}", highlight=False)

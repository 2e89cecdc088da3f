"""``saliency baselines``: chance, centre bias, leave-one-image-out centre, gold standard, one human."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

ORDER = 61


def register(app: typer.Typer) -> None:
    @app.command("baselines")
    def baselines_cmd(
        shards: Path = typer.Option(..., "--shards", help="Shard directory (outputs/<dataset>/shards)."),
        convention: Literal["pysaliency", "mit"] = typer.Option("pysaliency", "--convention", help="pysaliency | mit"),
        metrics: list[str] = typer.Option(None, "--metrics", "-m", help="Metrics (repeatable); "
                                          "`-m nss` is fastest."),
        which: list[str] = typer.Option(None, "--baseline", "-b", help="Baselines (repeatable); default all."),
        stimuli_file: Path = typer.Option(None, "--stimuli-file", help="Score only these stimuli (text lines, "
                                          "JSON list, or JSON object of splits with --split)."),
        split: str = typer.Option(None, "--split", help="Split name inside a JSON --stimuli-file."),
        out: Path = typer.Option(None, "--out", help="Write <baseline>_per_image.csv/.parquet, "
                                 "<baseline>_summary.json and baselines.json here."),
        json_out: bool = typer.Option(False, "--json", help="Print the summaries as JSON."),
        workers: int = typer.Option(1, "--workers", min=1, help="Threads scoring images concurrently "
                                    "(same values for any number)."),
    ) -> None:
        """Score the baselines; the centre-bias Gaussian is fitted to the stimuli NOT scored (all if none)."""
        from saliency.baselines import BASELINES, compute_baselines
        from saliency.cli.common import print_json
        from saliency.cli.evaluate import _shards, read_stimuli_file
        from saliency.cli.tables import print_results
        from saliency.io import write_json
        from saliency.progress import progress

        shard_set = _shards(shards)
        stimuli = read_stimuli_file(stimuli_file, split) if stimuli_file else None
        n = len(stimuli) if stimuli is not None else len(shard_set.stimuli)
        with progress(transient=True, disable=json_out) as bar:
            task = bar.add_task("baselines", total=n, rate="")
            results = compute_baselines(shard_set, convention=convention, metrics=metrics or None,
                                        stimuli=stimuli, which=tuple(which) if which else BASELINES,
                                        workers=workers,
                                        on_image=lambda _s: bar.advance(task))
        summaries = {k: r.summary for k, r in results.items()}
        if out is not None:
            for k, r in results.items():
                r.save(out, name=k)
            write_json(Path(out) / "baselines.json", summaries)
        if json_out:
            print_json(summaries)
            return
        first = next(iter(summaries.values()))
        print_results(f"baselines — convention: {first['convention']}", summaries, first["metrics"])

"""``saliency benchmark``: a model scored the MIT/Tübingen benchmark's way beside the baselines, per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

ORDER = 63


def register(app: typer.Typer) -> None:
    @app.command("benchmark")
    def benchmark_cmd(
        model: Path = typer.Argument(..., help="A fixation checkpoint (.pt), a training run, a pipeline run or "
                                     "a released model (e.g. generalist)."),
        shards: list[Path] = typer.Option(..., "--shards", help="Shard directory of one dataset (repeatable: "
                                          "one table per dataset)."),
        stimuli_file: list[Path] = typer.Option(None, "--stimuli-file", help="Stimuli to score, one per --shards "
                                                "in the same order (text lines, JSON list or a splits.json)."),
        split: str = typer.Option(None, "--split", help="Split name inside JSON --stimuli-file(s), e.g. test."),
        metrics: list[str] = typer.Option(None, "--metrics", "-m", help="Metrics (repeatable); LL is added."),
        baseline: list[str] = typer.Option(None, "--baseline", "-b", help="Baselines (repeatable); default "
                                           "centre_gaussian, one_human, gold_standard."),
        out: Path = typer.Option(None, "--out", help="Write benchmark.md, benchmark.csv, benchmark.json here "
                                 "(a run's benchmark/ folder is shown by 'saliency report')."),
        fmt: str = typer.Option("markdown", "--format", help="Printed as: markdown | csv | json."),
        workers: int = typer.Option(1, "--workers", min=1, help="Threads scoring images concurrently."),
        sauc_baseline: Literal["centre", "model"] = typer.Option(
            "centre", "--sauc-baseline", help="Probabilistic sAUC map's nonfixation density: the fitted centre "
            "bias (centre) or the model's average over the other scored images (model: the benchmark's choice)."),
    ) -> None:
        """Score MODEL on every dataset: probabilistic (metric-specific maps) and plain-map rows, centre bias,
        one human, gold standard and the gap closed; Markdown / CSV / JSON."""
        import json

        from saliency.cli.common import console
        from saliency.cli.evaluate import _shards, read_stimuli_file
        from saliency.cli.export import _checkpoint
        from saliency.errors import ConfigError
        from saliency.evaluation.predictions import load_predictions
        from saliency.progress import progress
        from saliency.reports.benchmark import (
            BENCHMARK_BASELINES,
            benchmark_dataset,
            to_csv,
            to_markdown,
            write_benchmark,
        )

        if fmt not in ("markdown", "csv", "json"):
            raise typer.BadParameter(f"expected markdown, csv or json, got {fmt!r}", param_hint="--format")
        if stimuli_file and len(stimuli_file) != len(shards):
            raise typer.BadParameter(f"{len(stimuli_file)} --stimuli-file for {len(shards)} --shards: give one "
                                     "per shard set, in the same order", param_hint="--stimuli-file")
        from saliency.released_index import is_released

        ckpt = model if is_released(model) else _checkpoint(model)
        tables = []
        for k, sdir in enumerate(shards):
            shard_set = _shards(sdir)
            stimuli = read_stimuli_file(stimuli_file[k], split) if stimuli_file else list(shard_set.stimuli)
            preds = load_predictions(ckpt, stimuli, image_path=shard_set.image_path, log_density=True)
            if not getattr(preds, "log_density", False):
                raise ConfigError(f"{ckpt}: not a fixation model; the benchmark scores fixation densities")
            with progress(transient=True, disable=fmt != "markdown") as bar:
                task = bar.add_task(f"predict {sdir.parent.name or sdir.name}", total=len(stimuli), rate="")
                cached = {}
                for s in stimuli:
                    cached[s] = preds[s]
                    bar.advance(task)
            name = str((shard_set.meta or {}).get("dataset") or sdir.parent.name or sdir.name)
            tables.append(benchmark_dataset(cached, shard_set, dataset=name, stimuli=stimuli,
                                            metrics=metrics or None, workers=workers,
                                            baselines=tuple(baseline) if baseline else tuple(BENCHMARK_BASELINES),
                                            sauc_baseline=sauc_baseline))
        if out is not None:
            write_benchmark(tables, out)
        if fmt == "json":
            console().print_json(json.dumps({"datasets": [t.to_dict() for t in tables]}))
        else:
            console().print(to_markdown(tables) if fmt == "markdown" else to_csv(tables), markup=False,
                            highlight=False, soft_wrap=True)

"""``saliency train CONFIG.toml [--set key=value ...] [--resume] [--run-dir DIR]``."""

from __future__ import annotations

from pathlib import Path

import typer

ORDER = 60


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        config: Path = typer.Argument(..., exists=True, dir_okay=False, help="TOML recipe (pipelines/configs/)."),
        set_: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=3 (repeatable)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from <run-dir>/checkpoints/last.pt."),
        run_dir: Path | None = typer.Option(None, "--run-dir", help="Run directory (default runs/<name>)."),
        json_out: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Train a fixation-prediction or salient-object network; leave a run directory.

        The run directory holds config.toml (resolved), checkpoints/{last,best}.pt, metrics.jsonl,
        metrics.csv, splits.json and eval/<dataset>/{summary.json, per_image.parquet}. Multi-GPU or
        multi-machine: launch the same command under ``torchrun --nproc_per_node=N -m saliency train ...``.
        Readout recipes (``model.name = "readout"``, e.g. generalist_cpu.toml) train on cached frozen features of
        ``data.datasets`` and print the generalisation table (docs/generalist.md).
        """
        from saliency.cli.common import console, print_json
        from saliency.training import load_config, train

        cfg = load_config(config, set_)
        if cfg.model.name == "readout":  # frozen-feature readout: saliency.training.generalist
            from saliency.training.generalist import train_generalist

            log = (lambda m: None) if json_out else (lambda m: console().print(m, markup=False))
            table = train_generalist(cfg, run_dir or Path(cfg.runs_dir) / cfg.name, log=log)
            if json_out:
                print_json({"run_dir": str(run_dir or Path(cfg.runs_dir) / cfg.name), "generalisation": table})
            return
        res = train(cfg, run_dir=run_dir, resume=resume, show_progress=not quiet and not json_out)
        out = {"run_dir": str(res.run_dir), "epochs_completed": res.epochs_completed,
               "best": res.best_value, "monitor": cfg.train.monitor, "stopped_early": res.stopped_early,
               "seconds": round(res.seconds, 1), "evaluation": res.evaluation}
        if json_out:
            print_json(out)
            return
        c = console()
        c.print(f"run {res.run_dir}  epochs {res.epochs_completed}  best val {cfg.train.monitor} "
                f"{res.best_value}  ({res.seconds:.0f} s)")
        for ds, summary in res.evaluation.items():
            vals = "  ".join(f"{k} {v:.4f}" for k, v in summary.items()
                             if isinstance(v, float) and not k.endswith("_fixation_mean"))
            c.print(f"  eval {ds}: {vals}")

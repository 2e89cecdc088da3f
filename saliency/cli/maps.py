"""``saliency maps``: fixation table → Gaussian ground-truth maps in checksummed shards."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

if TYPE_CHECKING:
    from saliency.fixations.selection import FixationSelection

ORDER = 20


def register(app: typer.Typer) -> None:
    app.command("maps")(maps)


def _selection(select: str | None, dataset: str) -> FixationSelection:
    """``--select`` resolved against the dataset card (saliency.ingest, with every reader, is imported
    only when a selection is given)."""
    from saliency.fixations.selection import FixationSelection

    if select is None:
        return FixationSelection()
    from saliency.ingest import resolve_selection

    return resolve_selection(select, dataset)


def maps(
    fixations: Path = typer.Argument(None, help="Fixation table (fixations.parquet from `saliency ingest`).",
                                     exists=True, dir_okay=False),
    stimuli: Path = typer.Option(None, "--stimuli", help="Folder of the stimulus images "
                                 "(default: the image paths recorded in the table).", file_okay=False),
    out: Path = typer.Option(None, "--out", help="Shard folder [default: outputs/<dataset>/shards]."),
    sigma: float = typer.Option(24.0, "--sigma", help="Gaussian σ, in --sigma-unit."),
    sigma_unit: Literal["px", "dva"] = typer.Option("px", "--sigma-unit", help="px | dva (dva needs pixels per degree)."),
    ppd: float = typer.Option(None, "--ppd", help="Pixels per degree, overriding the table's."),
    mode: Literal["constant", "reflect", "mit_fft"] = typer.Option("constant", "--mode", help="Boundary: constant (zero padding, MATLAB imfilter) | "
                             "reflect (pysaliency FixationMap) | mit_fft (MIT benchmark antonioGaussian)."),
    truncate: float = typer.Option(4.0, "--truncate", help="Kernel truncation in σ (constant, reflect)."),
    mit_fc: float = typer.Option(None, "--mit-fc", help="mit_fft cut-off in cycles per FFT grid "
                                 "(overrides σ; 8 = MIT benchmark)."),
    duration_weighted: bool = typer.Option(False, "--duration-weighted", help="Weight fixations by duration."),
    observer_equal: bool = typer.Option(False, "--observer-equal", help="Every observer weighs 1 per stimulus."),
    drop_first: bool = typer.Option(False, "--drop-first", help="Leave out each trial's first fixation."),
    binary: bool = typer.Option(False, "--binary", help="Each fixated pixel counts once (the binary fixation "
                                "map the MIT README blurs; with --mode mit_fft for MIT-style ground truth)."),
    select: str = typer.Option(None, "--select", help="Fixations per scanpath: a convention of the dataset "
                               "card (benchmark | authors) or e.g. drop-first, index=1:6, max=5, "
                               "window=0:1500, min-length=6 (comma-separated). Stored in meta.json; "
                               "baselines and metrics use the same fixations."),
    dtype: Literal["uint16", "float32", "float16"] = typer.Option(
        "uint16", "--dtype", help="Stored dtype: uint16 (peak-normalised, quantised to 1/65535 of the peak, "
        "compressed; needs parquet) | float32 | float16."),
    fmt: Literal["parquet", "npz"] = typer.Option("parquet", "--format",
                                                  help="Shard format: parquet | npz (uncompressed)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Threads computing maps (the compiled blur, coding and hashing release the GIL)."),
    shard_size: int = typer.Option(256, "--shard-size", min=1, help="Maps per shard."),
    shard_index: int = typer.Option(0, "--shard-index", min=0, help="This task's part (job arrays)."),
    shard_count: int = typer.Option(1, "--shard-count", min=1, help="Number of parts (job arrays)."),
    finalize: bool = typer.Option(False, "--finalize", help="Only assemble manifest + meta of a split "
                                  "build in --out (after every --shard-index task finished)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Delete the shard set in --out first and build it "
                                 "from scratch (a damaged or unsealed set: see `saliency verify`)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build ground-truth maps (sum-1 densities, stored peak-normalised) into resumable shards.

    Re-runs are byte-identical and skip shards whose checksum verifies; a killed run resumes.
    """
    import dataclasses
    import time

    from saliency.cli.common import allow_quick_exit, console, print_json
    from saliency.errors import ConfigError
    from saliency.fixations.table import FixationTable
    from saliency.maps.options import MapOptions
    from saliency.progress import progress, rate_text
    from saliency.shards import build_shards, finalize_shards

    if finalize:
        if out is None:
            raise ConfigError("--finalize needs --out (the shard folder of the split build)")
        meta = finalize_shards(out)
        assert meta is not None
        if json_out:
            print_json({"root": str(out), "finalized": True, "n_stimuli": meta["n_stimuli"]})
        else:
            console().print(f"finalised {out}: {meta['n_stimuli']} maps in {len(meta['shards'])} shards")
        return
    if fixations is None:
        raise ConfigError("give the fixation table (FIXATIONS.parquet), or --finalize with --out")
    table = FixationTable.read_parquet(fixations)
    if ppd is not None:
        table = FixationTable(table.data, dataclasses.replace(table.meta, pixels_per_degree=ppd))
    options = MapOptions(sigma=sigma, sigma_unit=sigma_unit, mode=mode, truncate=truncate,
                         duration_weighted=duration_weighted, observer_equal=observer_equal,
                         drop_first=drop_first, fc_cycles=mit_fc, binary=binary,
                         selection=_selection(select, table.meta.name))
    out = out or Path("outputs") / table.meta.name / "shards"
    if rebuild:
        from saliency.shards.seal import remove_shard_set

        remove_shard_set(out)
    t0 = time.perf_counter()
    with progress(disable=json_out) as bar:
        task = bar.add_task("maps", total=None, rate="")
        done = 0

        def on_plan(n_todo: int, n_skipped: int) -> None:
            bar.update(task, total=n_todo, description=f"maps ({n_skipped} verified, skipped)")

        def on_progress(k: int) -> None:
            nonlocal done
            done += k
            bar.update(task, advance=k, rate=rate_text(done, time.perf_counter() - t0, "maps"))

        result = build_shards(table, out, options, stimuli_dir=stimuli, dtype=dtype, fmt=fmt,
                              shard_size=shard_size, workers=workers, shard_index=shard_index,
                              shard_count=shard_count, on_progress=on_progress, on_plan=on_plan)
    elapsed = time.perf_counter() - t0
    allow_quick_exit()      # the shards, manifest and meta are written and closed: no module teardown needed
    summary = {"root": str(result.root), "built": result.built, "skipped": result.skipped,
               "finalized": result.finalized, "missing": result.missing, "maps_built": result.n_maps_built,
               "selection": options.effective_selection.describe(), "seconds": round(elapsed, 3)}
    if json_out:
        print_json(summary)
        return
    c = console()
    c.print(f"{result.n_maps_built} maps built in {len(result.built)} shards, {len(result.skipped)} shards "
            f"verified and kept ({elapsed:.1f} s) → {result.root}; fixations: "
            f"{options.effective_selection.describe()}")
    if not result.finalized:
        c.print(f"not finalised yet: shards {result.missing} belong to other --shard-index tasks; "
                f"when all are done run `saliency maps --finalize --out {result.root}`")

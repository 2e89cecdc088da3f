"""``saliency ingest FORMAT PATH...``: recordings → ``<out>/fixations.parquet`` + ``ingest_report.json``."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path

import typer

from saliency.readers import READERS

ORDER = 10

Format = Enum("Format", {n: n for n in READERS.names()}, type=str)  # type: ignore[misc]


class OnError(StrEnum):
    raise_ = "raise"
    skip = "skip"


class OutOfStimulus(StrEnum):
    drop = "drop"
    clip = "clip"


class EyeChoice(StrEnum):
    auto = "auto"
    left = "left"
    right = "right"
    mean = "mean"
    both = "both"


class TimeUnit(StrEnum):
    ms = "ms"
    s = "s"
    us = "us"


_FORMATS_HELP = "\n".join(f"[bold]{n}[/bold]: {READERS.help(n)}\n" for n in READERS.names())

_EPILOG = (
    "Examples:\n\n"
    "  saliency ingest nus ../shared/datasets/osie --dataset osie\n\n"
    "  saliency ingest fixatons ../shared/datasets/mit1003 --dataset mit1003 --out outputs/mit1003\n\n"
    "  saliency ingest tobii export.tsv --dataset fgd --stimulus face_0.png\n\n"
    "  saliency ingest dataviewer report.xls --dataset mine --stimuli images/ --column stimulus=IMAGE "
    "--placement 112,84\n\n"
    "  saliency ingest generic fix.csv --dataset mine --stimuli images/ --column x=gaze_x "
    "--column y=gaze_y --column stimulus=img --origin 1 --time-unit s\n\n"
    "Exit codes: 0 ok, 2 usage, 3 bad data or configuration (the message names file, line and expectation)."
)


def register(app: typer.Typer) -> None:
    @app.command("ingest", epilog=_EPILOG)
    def ingest_cmd(
        fmt: Format = typer.Argument(..., metavar="FORMAT", help="Input format:\n\n" + _FORMATS_HELP,
                                  show_default=False),
        paths: list[Path] = typer.Argument(..., metavar="PATH...", show_default=False,
                                           help="Dataset folder (nus, fixatons) or recording files / folders "
                                                "(other formats; folders are searched for the format's files)."),
        dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name; data/<name>.toml (if any) gives "
                                    "defaults: pixels per degree, geometry, coordinate origin."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output folder \\[default: outputs/<dataset>]."),
        stimuli: Path | None = typer.Option(None, "--stimuli", help="Folder of stimulus images (sizes read from "
                                            "headers). Default for nus: <root>/stimuli, fixatons: <root>/STIMULI."),
        stimulus_size: str | None = typer.Option(None, "--stimulus-size", metavar="WxH",
                                                 help="Stimulus size when the images are not at hand, e.g. 800x600."),
        stimulus: str | None = typer.Option(None, "--stimulus", help="One stimulus name for every row "
                                            "(recordings of a single image without a name column)."),
        on_error: OnError = typer.Option(OnError.raise_, "--on-error", help="raise: stop at the first bad record; "
                                     "skip: drop it and count it in the report."),
        out_of_stimulus: OutOfStimulus = typer.Option(OutOfStimulus.drop, "--out-of-stimulus", help="drop or clip fixations outside "
                                            "the stimulus (both counted)."),
        eye: EyeChoice = typer.Option(EyeChoice.auto, "--eye", help="Which eye of binocular recordings: auto "
                                      "(the format's default), left, right, mean (average) or both."),
        column: list[str] = typer.Option([], "--column", "-c", metavar="FIELD=COLUMN",
                                         help="Map a canonical field (x, y, stimulus, observer, trial, index, "
                                              "t_start, t_end, duration, eye) to a source column; repeatable."),
        mapping: Path | None = typer.Option(None, "--mapping", metavar="FILE.toml",
                                            help="Column mapping and options in TOML (\\[columns] x = \"gaze_x\"; "
                                                 "origin, time_unit, delimiter, encoding). --column overrides."),
        origin: int | None = typer.Option(None, "--origin", help="Coordinate origin of the source: 0 or 1 "
                                          "(1 = MATLAB-style, converted with x0 = x - 1) \\[default: the format's]."),
        time_unit: TimeUnit | None = typer.Option(None, "--time-unit", help="Unit of time columns: ms, s or us "
                                             "(generic) \\[default: ms]."),
        placement: str | None = typer.Option(None, "--placement", metavar="OX,OY[,SCALE]",
                                             help="Where the image was on the screen (its top-left corner in "
                                                  "screen px, and scale) for formats reporting screen pixels."),
        option: list[str] = typer.Option([], "--option", metavar="KEY=VALUE", help="Format-specific option, "
                                          "repeatable. eyelink: events=efix|ivt|idt, stimulus_pattern=REGEX, "
                                          "onset_pattern=REGEX, observer=NAME; doves: events=authors|ivt|idt; "
                                          "samples: events=ivt|idt, observer=NAME; detection overrides such as "
                                          "velocity_threshold_dva_s=30 (see docs/ingest.md)."),
        ppd: float | None = typer.Option(None, "--ppd", help="Pixels per degree (overrides the dataset card)."),
        card: Path | None = typer.Option(None, "--card", help="Dataset card TOML \\[default: data/<dataset>.toml]."),
        encoding: str | None = typer.Option(None, "--encoding", help="Text encoding \\[default: utf-8; "
                                            "UTF-16 with a BOM is detected]."),
        delimiter: str | None = typer.Option(None, "--delimiter", help="Field separator \\[default: sniffed]."),
        drop_first: int = typer.Option(0, "--drop-first", help="Drop the first N fixations of every "
                                       "scanpath (counted as 'first fixation')."),
        min_duration: float | None = typer.Option(None, "--min-duration", help="Drop fixations shorter (ms)."),
        max_duration: float | None = typer.Option(None, "--max-duration", help="Drop fixations longer (ms)."),
        max_validation_error: float | None = typer.Option(
            None, "--max-validation-error", help="Exclude trials whose tracker validation error "
            "(EyeLink !CAL VALIDATION avg., worse eye; Tobii Pro Lab validation accuracy) is above this many degrees [default: the card's]."),
        max_tracking_loss: float | None = typer.Option(
            None, "--max-tracking-loss", help="Exclude trials losing more than this fraction of "
            "samples (0.2 = 20 %%) [default: the card's]."),
        workers: int | None = typer.Option(None, "--workers", "-j", help="Processes for file formats "
                                           "\\[default: CPUs]."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
    ) -> None:
        """Read eye-tracking recordings into one validated fixation table.

        Writes OUT/fixations.parquet (canonical table: 0-based stimulus pixels, ms) and OUT/ingest_report.json (kept and dropped fixations per source file and reason: every input fixation is accounted for). Re-running gives byte-identical files.
        """
        import time

        from saliency.cli.common import console, print_json
        from saliency.fixations.placement import StimulusPlacement
        from saliency.ingest import ingest
        from saliency.progress import progress, rate_text
        from saliency.readers.base import ReadOptions
        from saliency.readers.generic import load_mapping_file
        from saliency.readers.quality import QualityRules
        from saliency.readers.request import ReadRequest, parse_column_mapping, parse_key_values, parse_size

        spec = READERS.get(fmt.value)
        file_map = load_mapping_file(mapping) if mapping is not None else {}
        columns = {**file_map.get("columns", {}), **parse_column_mapping(column)}
        request = ReadRequest(
            dataset=dataset,
            options=ReadOptions(on_error=on_error.value, out_of_stimulus=out_of_stimulus.value),  # type: ignore[arg-type]
            stimuli_dir=stimuli,
            stimulus_size=parse_size(stimulus_size) if stimulus_size else None,
            stimulus=stimulus if stimulus is not None else file_map.get("stimulus"),
            eye=eye.value if eye != EyeChoice.auto else file_map.get("eye", "auto"),
            columns=columns,
            origin=origin if origin is not None else file_map.get("origin"),
            time_unit=time_unit.value if time_unit is not None else file_map.get("time_unit", "ms"),
            placement=StimulusPlacement.from_string(placement) if placement else None,
            pixels_per_degree=ppd,
            encoding=encoding or file_map.get("encoding", "utf-8"),
            delimiter=delimiter or file_map.get("delimiter"),
            workers=workers or 1,
            extra=parse_key_values(option),
        )
        out_dir = out if out is not None else Path("outputs") / dataset
        t0 = time.perf_counter()
        with progress(transient=True, disable=as_json) as bar:
            task = bar.add_task(f"ingest {spec.name}", total=None, rate="")

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total,
                           rate=rate_text(done, time.perf_counter() - t0, "files"))

            result = ingest(spec.name, paths, dataset=dataset, out=out_dir, request=request,
                            card=card if card is not None else "auto", drop_first=drop_first,
                            min_duration_ms=min_duration, max_duration_ms=max_duration, workers=workers,
                            quality=QualityRules(max_validation_error, max_tracking_loss),
                            progress=tick)
        if as_json:
            print_json(result.report)
            return
        _print_summary(console(), result)


def _print_summary(con, result) -> None:  # rich Console, IngestResult (imported lazily)
    from rich.table import Table

    rep, acc = result.report, result.report["accounting"]
    t = rep["table"]
    summary = Table(title=f"ingest {rep['format']} → {rep['dataset']}", show_header=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    rate = acc["seen"] / result.elapsed_s if result.elapsed_s > 0 else float("nan")
    for k, v in [("input files", f"{len(rep['inputs']):,} ({len(acc['files']):,} sources)"),
                 ("fixations seen", f"{acc['seen']:,}"), ("kept", f"{acc['kept']:,}"),
                 ("dropped", f"{acc['dropped']:,}"),
                 *([("files skipped (unreadable)", "\n".join(acc["files_skipped"].values()))]
                   if acc.get("files_skipped") else []),
                 ("stimuli (with fixations / listed)", f"{t['stimuli_with_fixations']:,} / {t['stimuli_listed']:,}"),
                 ("observers", f"{t['observers']:,}"),
                 ("pixels per degree", "—" if t["pixels_per_degree"] is None else f"{t['pixels_per_degree']:g}"),
                 ("time", f"{result.elapsed_s:.2f} s ({rate:,.0f} fixations/s)")]:
        summary.add_row(k, v)
    con.print(summary)
    if acc["dropped_by_reason"] or any(f["noted"] for f in acc["files"].values()):
        reasons = Table(title="dropped / changed, by reason")
        reasons.add_column("reason")
        reasons.add_column("fixations", justify="right")
        reasons.add_column("files", justify="right")
        reasons.add_column("example")
        for reason, n in acc["dropped_by_reason"].items():
            files = [f for f, d in acc["files"].items() if reason in d["dropped"]]
            example = next((_short_example(f, acc["files"][f]["examples"][reason]) for f in files
                            if reason in acc["files"][f]["examples"]), "")
            reasons.add_row(reason, f"{n:,}", f"{len(files):,}", example)
        noted: dict[str, int] = {}
        for d in acc["files"].values():
            for k, v in d["noted"].items():
                noted[k] = noted.get(k, 0) + v
        for k, v in sorted(noted.items()):
            reasons.add_row(f"{k} (kept)", f"{v:,}", "", "")
        con.print(reasons)
    q = rep.get("quality")
    if q:
        qt = Table(title=f"recording quality ({q['n_trials']} trials, {q['n_excluded']} excluded)")
        for c in ("observer", "trial", "TRIALID", "validation °", "tracking loss", "blinks", "fixations",
                  "mean fix ms", "excluded"):
            qt.add_column(c)
        for t in q["trials"][:50]:
            v = t["validation_error_deg"]
            qt.add_row(t["observer"], str(t["trial"]), str(t["trial_id"] or ""), "—" if v is None else f"{v:.2f}",
                       f"{100 * t['tracking_loss']:.1f} %", str(t["blinks"]), str(t["fixations"]),
                       "—" if t["mean_fixation_ms"] is None else f"{t['mean_fixation_ms']:.0f}", t["excluded"] or "")
        con.print(qt)
    for item in rep.get("ignored_inputs") or []:
        con.print(f"ignored {Path(item['path']).name}: {item['reason']}")
    if rep.get("embedded_stimuli"):
        emb = rep["embedded_stimuli"]
        con.print(f"wrote {emb['stimuli']} stimulus pictures stored inside the recordings to {emb['folder']}")
    if result.out_dir is not None:
        con.print(f"wrote {result.out_dir / 'fixations.parquet'} and {result.out_dir / 'ingest_report.json'}")


def _short_example(path: str, example: str) -> str:
    """An example with the file named once, by its base name."""
    name = Path(path).name
    return example.replace(path, name) if path in example else f"{name}: {example}"

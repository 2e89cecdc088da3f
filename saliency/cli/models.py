"""``saliency models``: the model zoo with parameters, multiply-adds and (optionally) CPU latency."""

from __future__ import annotations

import typer

ORDER = 40


def register(app: typer.Typer) -> None:
    app.command("models")(models_cmd)


def models_cmd(
    names: list[str] = typer.Option(None, "--model", "-m", help="Only these zoo names (repeatable); default all."),
    height: int = typer.Option(288, "--height", min=1, help="Input height (px) for multiply-adds and latency."),
    width: int = typer.Option(384, "--width", min=1, help="Input width (px) for multiply-adds and latency."),
    latency: bool = typer.Option(False, "--latency", help="Also time CPU inference (slow: builds and runs "
                                 "every model)."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size of the latency measurement."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Timed forward passes per model (median)."),
    json_out: bool = typer.Option(False, "--json", help="Print the rows as a JSON list."),
) -> None:
    """List every zoo architecture: task, encoder, attention, parameters, multiply-adds (GMACs at
    --height×--width, batch 1) and, with --latency, CPU eval-mode latency (median ms) and images/s."""
    from rich.table import Table

    from saliency.cli.common import console, print_json
    from saliency.models import MODELS
    from saliency.models.introspect import describe_model
    from saliency.progress import progress

    selected = list(names) if names else MODELS.names()
    for n in selected:
        MODELS.get(n)  # unknown name → UnknownNameError (exit 3) listing the known ones, before any work
    rows = []
    with progress(transient=True, disable=json_out) as bar:
        task = bar.add_task("models", total=len(selected), rate="")
        for n in selected:
            rows.append(describe_model(n, height=height, width=width, latency=latency, batch=batch,
                                       repeats=repeats))
            bar.advance(task)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"model zoo ({height}×{width} input)")
    for col, just in (("name", "left"), ("task", "left"), ("encoder", "left"), ("attention", "left"),
                      ("priors", "right"), ("params (M)", "right"), ("GMACs", "right")):
        table.add_column(col, justify=just)
    if latency:
        table.add_column(f"CPU ms (b={batch})", justify="right")
        table.add_column("img/s", justify="right")
    table.add_column("description")
    for r in rows:
        cells = [r["name"], r["task"], r["encoder"] + (" (ImageNet)" if r["pretrained"] else ""), r["attention"],
                 str(r["priors"]), f"{r['parameters'] / 1e6:.2f}", f"{r['macs'] / 1e9:.2f}"]
        if latency:
            cells += [f"{r['latency_ms']:.1f}", f"{r['images_per_s']:.1f}"]
        table.add_row(*cells, r["description"])
    console().print(table)

"""``saliency benchmark``: a model scored the MIT/Tübingen benchmark's way beside the baselines, per dataset.

For each shard set (dataset) one table: the model scored on its metric-specific maps (probabilistic,
:mod:`saliency.metrics.probabilistic`), the same model scored with its density as one plain map, the
baselines (centre bias fitted to the images not scored, one human, gold standard;
:func:`saliency.baselines.compute_baselines`) and the fraction of the centre-bias → gold-standard gap the
probabilistic model closes, metric by metric (:func:`saliency.metrics.gap_closed`; for KL, lower is better and
the same formula applies). Written as Markdown, CSV (long: dataset, row, metric, value) and JSON, and as a
section of the HTML report (:func:`benchmark_section_html`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Baselines in the table, and their row names.
BENCHMARK_BASELINES = {"centre_gaussian": "centre bias", "one_human": "one human", "gold_standard": "gold standard"}
MODEL_ROW = "model (probabilistic)"
PLAIN_ROW = "model (plain map)"
GAP_ROW = "gap closed"


@dataclass
class DatasetBenchmark:
    """One dataset's table: ``rows`` row name → metric → value (NaN: not scored); ``maps`` metric → map kind."""

    dataset: str
    n_images: int
    metrics: list[str]
    rows: dict[str, dict[str, float]]
    maps: dict[str, str] = field(default_factory=dict)
    convention: str = "pysaliency"
    sauc_baseline: str = "centre"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows"] = {r: {m: (None if not math.isfinite(v) else v) for m, v in vals.items()}
                     for r, vals in self.rows.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetBenchmark:
        rows = {r: {m: (float("nan") if v is None else float(v)) for m, v in vals.items()}
                for r, vals in d["rows"].items()}
        return cls(d["dataset"], int(d["n_images"]), list(d["metrics"]), rows, dict(d.get("maps", {})),
                   d.get("convention", "pysaliency"), d.get("sauc_baseline", "centre"))


def benchmark_dataset(log_densities: Mapping[str, np.ndarray], shards: Any, *, dataset: str,
                      stimuli: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                      baselines: Sequence[str] = tuple(BENCHMARK_BASELINES), workers: int = 1,
                      sauc_baseline: str = "centre") -> DatasetBenchmark:
    """Score one dataset: the model's log-densities (stimulus → (H, W)) probabilistically and as a plain map,
    plus the baselines, on ``stimuli`` (default all) of ``shards``. ``sauc_baseline``: the probabilistic sAUC
    map's nonfixation density (``centre`` or the benchmark's ``model``, see ``evaluate``)."""
    from saliency.baselines import compute_baselines
    from saliency.metrics.evaluation import evaluate, gap_closed
    from saliency.metrics.streaming import DEFAULT_METRICS

    names = list(stimuli) if stimuli is not None else list(shards.stimuli)
    plain_metrics = [m for m in (metrics or DEFAULT_METRICS) if m != "ll"]
    prob = evaluate(log_densities, shards, metrics=[*plain_metrics, "ll"], stimuli=names, probabilistic=True,
                    workers=workers, sauc_baseline=sauc_baseline)
    plain = evaluate(log_densities, shards, metrics=[*plain_metrics, "ll"], stimuli=names, log_density=True,
                     workers=workers)
    base = compute_baselines(shards, metrics=plain_metrics, stimuli=names, which=tuple(baselines))
    cols = [*plain_metrics, "ll"]
    rows: dict[str, dict[str, float]] = {
        MODEL_ROW: {m: float(prob.summary[m]) for m in cols},
        PLAIN_ROW: {m: float(plain.summary.get(m, float("nan"))) for m in cols},
    }
    for key in baselines:
        rows[BENCHMARK_BASELINES.get(key, key)] = {m: float(base[key].summary.get(m, float("nan"))) for m in cols}
    gap: dict[str, float] = {}
    c, g = rows.get("centre bias"), rows.get("gold standard")
    for m in cols:
        gap[m] = float("nan")
        if c and g and all(math.isfinite(v) for v in (rows[MODEL_ROW][m], c[m], g[m])) and g[m] != c[m]:
            gap[m] = gap_closed(rows[MODEL_ROW][m], c[m], g[m])
    rows[GAP_ROW] = gap
    return DatasetBenchmark(dataset, len(names), cols, rows, dict(prob.summary["maps"]), prob.summary["convention"],
                            sauc_baseline)


# --------------------------------------------------------------------------------------------------- output
def _cell(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.4f}"


def to_markdown(benchmarks: Sequence[DatasetBenchmark]) -> str:
    """One Markdown table per dataset (rows: model, plain map, baselines, gap closed; a 'map' row)."""
    from saliency.metrics.probabilistic import MAP_LABELS

    out = []
    for b in benchmarks:
        sauc = "; sAUC map ÷ the model's average over the other images" if b.sauc_baseline == "model" else ""
        out.append(f"### {b.dataset} ({b.n_images} images, {b.convention} convention{sauc})\n")
        out.append("| | " + " | ".join(b.metrics) + " |")
        out.append("|---|" + "---:|" * len(b.metrics))
        for row, vals in b.rows.items():
            out.append(f"| {row} | " + " | ".join(_cell(vals.get(m, float("nan"))) for m in b.metrics) + " |")
        out.append("| map used | " + " | ".join(MAP_LABELS.get(b.maps.get(m, ""), "") for m in b.metrics) + " |")
        out.append("")
    return "\n".join(out)


def to_csv(benchmarks: Sequence[DatasetBenchmark]) -> str:
    """Long CSV: dataset, n_images, row, metric, value, map."""
    lines = ["dataset,n_images,row,metric,value,map"]
    for b in benchmarks:
        for row, vals in b.rows.items():
            for m in b.metrics:
                v = vals.get(m, float("nan"))
                lines.append(f"{b.dataset},{b.n_images},{row},{m},{'' if not math.isfinite(v) else repr(v)},"
                             f"{b.maps.get(m, '')}")
    return "\n".join(lines) + "\n"


def write_benchmark(benchmarks: Sequence[DatasetBenchmark], out: str | Path) -> dict[str, Path]:
    """``benchmark.md``, ``benchmark.csv``, ``benchmark.json`` under ``out`` (atomically)."""
    from saliency.io import atomic_write, write_json

    out = Path(out)
    paths = {"md": out / "benchmark.md", "csv": out / "benchmark.csv", "json": out / "benchmark.json"}
    with atomic_write(paths["md"], "w") as fh:
        fh.write(to_markdown(benchmarks))
    with atomic_write(paths["csv"], "w") as fh:
        fh.write(to_csv(benchmarks))
    write_json(paths["json"], {"datasets": [b.to_dict() for b in benchmarks]})
    return paths


def read_benchmark(path: str | Path) -> list[DatasetBenchmark]:
    """The tables of a ``benchmark.json``."""
    import json

    return [DatasetBenchmark.from_dict(d) for d in json.loads(Path(path).read_text())["datasets"]]


def benchmark_section_html(benchmarks: Sequence[DatasetBenchmark]) -> str:
    """The HTML report's benchmark section: one table per dataset."""
    from saliency.metrics.probabilistic import MAP_LABELS
    from saliency.reports.html import esc, table

    parts = ["<p>Each metric scored on the model's metric-specific map (MIT/Tübingen benchmark, Kümmerer et al. "
             "2018); 'gap closed' = (model − centre bias) / (gold standard − centre bias).</p>"]
    for b in benchmarks:
        parts.append(f"<h3>{esc(b.dataset)} · {b.n_images} images · {esc(b.convention)}</h3>")
        rows = [[r, *[vals.get(m, float("nan")) for m in b.metrics]] for r, vals in b.rows.items()]
        rows.append(["map used", *[MAP_LABELS.get(b.maps.get(m, ""), "") for m in b.metrics]])
        parts.append(table(["", *b.metrics], rows))
    return "\n".join(parts)

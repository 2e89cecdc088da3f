"""The run report: what went in, how training went, how the model compares with the baselines.

:func:`render_report` turns a :class:`ReportData` into one self-contained HTML page (pure function,
deterministic for equal inputs). :func:`build_report` collects the data from a run directory
(a pipeline output directory or a training run directory, see :mod:`saliency.reports.rundir`) and
writes ``report.html`` atomically.

Gap closed (Kümmerer, Wallis & Bethge 2015, "Information-theoretic model comparison unifies saliency
metrics", reported for NSS): ``(NSS_model − NSS_centre) / (NSS_gold − NSS_centre)``, the fraction of the
distance from the centre-bias baseline to the leave-one-observer-out gold standard that the model covers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency.io import atomic_write
from saliency.metrics.evaluation import gap_closed
from saliency.reports import figures
from saliency.reports.html import Raw, cards, esc, fmt, img, kv_table, page, table

SUMMARY_SKIP = {"n", "n_images", "n_stimuli", "n_fixations", "count", "convention", "log_density",
                "dataset", "model", "split", "sigma_px", "centre_gaussian_fit_stimuli", "seconds", "epoch"}

#: How metric keys (``saliency.metrics`` names are lower case) are shown in tables and figures.
DISPLAY = {"nss": "NSS", "cc": "CC", "auc_judd": "AUC-Judd", "auc_borji": "AUC-Borji", "sauc": "sAUC",
           "kl": "KL", "sim": "SIM", "ig": "IG", "emd": "EMD", "mae": "MAE", "sm": "S-measure",
           "max_fm": "max F", "mean_fm": "mean F", "adp_fm": "adaptive F", "wfm": "weighted F",
           "max_em": "max E", "mean_em": "mean E", "adp_em": "adaptive E"}


def display_name(metric: str) -> str:
    """``"nss"`` → ``"NSS"``, ``"nss_fixation_mean"`` → ``"NSS (per fixation)"``; unknown keys unchanged."""
    if metric.endswith("_fixation_mean"):
        return f"{display_name(metric[: -len('_fixation_mean')])} (per fixation)"
    return DISPLAY.get(metric.lower(), metric)


def find_key(mapping: Mapping[str, Any] | None, key: str) -> str | None:
    """The key of ``mapping`` equal to ``key`` ignoring case (exact match first), else None."""
    if not mapping:
        return None
    if key in mapping:
        return key
    low = key.lower()
    return next((k for k in mapping if isinstance(k, str) and k.lower() == low), None)


@dataclass
class GalleryItem:
    """One stimulus of the best/worst gallery.

    image: (H, W, 3) uint8; truth: (H, W) density (fixation task) or mask (SOD) or None;
    prediction: (H, W) float (``log_density`` tells whether it is a log-density);
    attention: name → (h, w) attention map at any scale; fixations: (x_px, y_px) 0-based or None.
    """

    stimulus: str
    image: np.ndarray
    prediction: np.ndarray
    scores: Mapping[str, float] = field(default_factory=dict)
    truth: np.ndarray | None = None
    attention: Mapping[str, np.ndarray] = field(default_factory=dict)
    fixations: tuple[np.ndarray, np.ndarray] | None = None
    log_density: bool = False


@dataclass
class ReportData:
    """Everything a report shows; every part is optional (absent parts get a note, not an error)."""

    title: str
    task: str = "fixation"
    model_name: str = "model"
    model_summary: Mapping[str, Any] | None = None        # metric → mean (+ counts, convention)
    baselines: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name → summary
    per_image: pd.DataFrame | None = None
    curves: Sequence[Mapping[str, Any]] = ()               # metrics.jsonl records
    ingest: Mapping[str, Any] | None = None                # ingest_report.json
    best: Sequence[GalleryItem] = ()
    worst: Sequence[GalleryItem] = ()
    rank_by: str = "NSS"
    info: Mapping[str, Any] = field(default_factory=dict)  # run facts shown at the top
    stages: Sequence[Mapping[str, Any]] = ()               # pipeline manifest rows
    notes: Sequence[str] = ()
    benchmark: Sequence[Any] = ()                          # saliency.reports.benchmark.DatasetBenchmark tables
    released: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # released model → summary


def metric_names(*summaries: Mapping[str, Any] | None) -> list[str]:
    """Metric keys in first-seen order: a summary's own ``metrics`` list when it has one (as
    ``saliency.metrics.evaluate`` writes), else its numeric keys without counts and bookkeeping keys.
    Per-fixation means (``*_fixation_mean``) stay in summary.json; the table shows per-image means."""
    out: list[str] = []
    for s in summaries:
        s = s or {}
        listed = s.get("metrics")
        keys = [k for k in listed if k in s] if isinstance(listed, list | tuple) else list(s)
        for k in keys:
            v = s[k]
            if (k in SUMMARY_SKIP or k.startswith("n_") or k.endswith(("_std", "_fixation_mean"))
                    or any(k.lower() == o.lower() for o in out)):
                continue
            if isinstance(v, int | float) and not isinstance(v, bool):
                out.append(k)
    return out


def _find(baselines: Mapping[str, Any], *needles: str) -> str | None:
    """The first baseline whose name contains a needle, trying the needles in order (most specific first)."""
    for n in needles:
        for name in baselines:
            if n in name.lower().replace("-", "_").replace(" ", "_"):
                return name
    return None


def gap_closed_of(model: Mapping[str, Any] | None, baselines: Mapping[str, Mapping[str, Any]],
                  metric: str = "NSS") -> tuple[float, str, str] | None:
    """:func:`saliency.metrics.gap_closed` on ``metric``, the centre-bias and gold-standard rows found by
    name among ``baselines`` (None if not computable).

    Returns (fraction, centre baseline name, gold baseline name).
    """
    centre = _find(baselines, "centre_gaussian", "centre", "center")
    gold = _find(baselines, "gold")
    if model is None or centre is None or gold is None:
        return None
    try:
        m, c, g = (float(model[find_key(model, metric) or metric]),
                   float(baselines[centre][find_key(baselines[centre], metric) or metric]),
                   float(baselines[gold][find_key(baselines[gold], metric) or metric]))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (m, c, g)) or g == c:
        return None
    return gap_closed(m, c, g), centre, gold


def _metrics_section(d: ReportData) -> str:
    rows: dict[str, Mapping[str, Any]] = {}
    if d.model_summary is not None:
        rows[d.model_name] = d.model_summary
    rows.update({f"released: {name}": s for name, s in d.released.items()})
    rows.update(d.baselines)
    if not rows:
        return '<p class="note">No evaluation results in this run.</p>'
    names = metric_names(*rows.values())
    body = []
    top: dict[str, Any] = {}
    if d.model_summary is not None:
        for m in names[:4]:
            if m in d.model_summary:
                top[f"{display_name(m)} ({d.model_name})"] = d.model_summary[m]
    g = gap_closed_of(d.model_summary, d.baselines, "NSS")
    if g is not None:
        frac, centre, gold = g
        top["NSS gap closed"] = Raw(f"{100 * frac:.1f}%")
        body.append(cards(top))
        body.append(f'<p>The model closes <b>{100 * frac:.1f}%</b> of the NSS gap between the centre-bias '
                    f'baseline (<code>{esc(centre)}</code>) and the leave-one-observer-out gold standard '
                    f'(<code>{esc(gold)}</code>): (NSS<sub>model</sub> − NSS<sub>centre</sub>) / '
                    '(NSS<sub>gold</sub> − NSS<sub>centre</sub>).</p>')
        for name, s in d.released.items():
            gr = gap_closed_of(s, d.baselines, "NSS")
            if gr is not None:
                body.append(f'<p>The released model <code>{esc(name)}</code> (shipped weights, no training on '
                            f'this run) closes <b>{100 * gr[0]:.1f}%</b> on the same images.</p>')
    else:
        body.append(cards(top) if top else "")
        if d.task == "fixation":
            body.append('<p class="note">Gap closed not computed: needs centre-bias and gold-standard baselines '
                        "with NSS.</p>")
    conv = (d.model_summary or {}).get("convention") or next(
        (s.get("convention") for s in d.baselines.values() if s.get("convention")), None)
    counts = (d.model_summary or {})
    count_bits = [f"{k.replace('_', ' ')}: {fmt_int(counts[k])}" for k in ("n_images", "n_stimuli", "n_fixations")
                  if k in counts]
    header = ["", *[display_name(m) for m in names]]
    trs = [[n, *[rows[n].get(find_key(rows[n], m) or m, float("nan")) for m in names]] for n in rows]
    classes = ["model" if (d.model_summary is not None and i == 0) else "" for i in range(len(trs))]
    body.append(table(header, trs, row_classes=classes))
    meta = ", ".join(x for x in [f"convention: {conv}" if conv else "", *count_bits] if x)
    if meta:
        body.append(f'<p class="sub">{esc(meta)}</p>')
    bars = figures.metric_bars_png({n: {display_name(m): r.get(find_key(r, m) or m, float("nan")) for m in names}
                                    for n, r in rows.items()}, [display_name(m) for m in names])
    if bars:
        body.append(img(bars, "metrics of the model and the baselines", cls="plot"))
    return "".join(body)


def fmt_int(v: Any) -> str:
    try:
        return f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def _curves_section(d: ReportData) -> str:
    if not d.curves:
        return '<p class="note">No training log (metrics.jsonl) in this run.</p>'
    png = figures.training_curves_png(d.curves)
    if png is None:
        return '<p class="note">The training log has no numeric values.</p>'
    last = {k: v for k, v in d.curves[-1].items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return img(png, "training curves", cls="plot") + f'<h3>Last record</h3>{kv_table(last)}'


def _panel(item: GalleryItem) -> str:
    im = np.asarray(item.image, dtype=np.uint8)
    h, w = im.shape[:2]
    panels = [img(figures.to_png(figures.thumbnail(im)), f"{item.stimulus} image", caption="image")]
    if item.truth is not None:
        gt = figures.overlay(im, item.truth)
        if item.fixations is not None:
            gt = figures.draw_points(gt, *item.fixations, radius=max(2, round(max(h, w) / 200)))
        cap = "ground truth" + (" + fixations" if item.fixations is not None else "")
        panels.append(img(figures.to_png(figures.thumbnail(gt)), f"{item.stimulus} ground truth", caption=cap))
    pred = figures.overlay(im, item.prediction, log_density=item.log_density)
    panels.append(img(figures.to_png(figures.thumbnail(pred)), f"{item.stimulus} prediction", caption="prediction"))
    for name, att in item.attention.items():
        a = np.asarray(att, dtype=np.float32)
        ov = figures.overlay(im, a, cmap="viridis")
        panels.append(img(figures.to_png(figures.thumbnail(ov)), f"{item.stimulus} attention {name}",
                          caption=f"attention: {name}"))
    scores = ", ".join(f"{k} {v:.3f}" for k, v in item.scores.items() if isinstance(v, int | float))
    return f"<h3>{esc(item.stimulus)} <span class=\"sub\">{esc(scores)}</span></h3><div class=\"gallery-row\">{''.join(panels)}</div>"


def _gallery_section(d: ReportData) -> str:
    if not d.best and not d.worst:
        return '<p class="note">No gallery (needs a checkpoint, the ground truth and per-image scores).</p>'
    out = [f'<p>Ranked by per-image {esc(display_name(d.rank_by))}. Panels: the image, the ground truth '
           '(with the fixations), the prediction and the spatial attention maps of the network\'s attention '
           'blocks (<code>saliency.models.attention_maps</code>, module path as caption). Heat maps are '
           'min-max normalised over each image.</p>']
    if not any(i.attention for i in [*d.best, *d.worst]):
        out.append(f'<p class="note">The model ({esc(d.model_name)}) computes no spatial attention maps (it has '
                   'no attention blocks, or only channel attention): no attention panels.</p>')
    if d.best:
        out.append(f"<h3>Best {len(d.best)}</h3>" + "".join(_panel(i) for i in d.best))
    if d.worst:
        out.append(f"<h3>Worst {len(d.worst)}</h3>" + "".join(_panel(i) for i in d.worst))
    return "".join(out)


def _per_image_section(d: ReportData) -> str:
    if d.per_image is None or d.per_image.empty:
        return '<p class="note">No per-image results.</p>'
    df = d.per_image
    num = [c for c in df.columns if c != "stimulus" and pd.api.types.is_numeric_dtype(df[c])]
    stats = df[num].describe(percentiles=[0.1, 0.5, 0.9]).T
    rows = [[display_name(c), *[stats.loc[c, k] for k in ("count", "mean", "std", "min", "10%", "50%", "90%", "max")]]
            for c in num]
    for r in rows:
        r[1] = int(r[1])
    return table(["metric", "images", "mean", "std", "min", "p10", "median", "p90", "max"], rows)


def _ingest_section(d: ReportData) -> str:
    if d.ingest is None:
        return '<p class="note">No ingest report in this run (fixations not ingested by this pipeline).</p>'
    rep = d.ingest
    acc = rep.get("accounting", rep) if isinstance(rep.get("accounting"), Mapping) else rep
    out = []
    top = {k: v for k, v in rep.items() if not isinstance(v, Mapping | list)}
    top.update({k: v for k, v in acc.items() if not isinstance(v, Mapping | list) and k not in top})
    tab = rep.get("table")
    if isinstance(tab, Mapping):  # what the table holds: size, observers, geometry, coordinate convention
        top.update({f"table: {k.replace('_', ' ')}": v for k, v in tab.items()
                    if not isinstance(v, Mapping | list) and v is not None})
    card = rep.get("card")
    if isinstance(card, Mapping):
        top.update({f"dataset {k}": card[k] for k in ("citation", "licence") if card.get(k)})
    if top:
        out.append(kv_table(top))
    sub = rep.get("subset")
    if isinstance(sub, Mapping) and sub.get("fixations_before"):
        after, before = sub.get("fixations_after", 0), sub["fixations_before"]
        out.append(f'<p><b>Subset</b> ({esc(sub.get("rule", ""))}, max_stimuli = {fmt(sub.get("max_stimuli"))}): '
                   f'{fmt(after)} of {fmt(before)} fixations ({100 * after / before:.1f}%) go to the later stages; '
                   'the accounting below is of the full read.</p>')
    kept, dropped = acc.get("kept"), acc.get("dropped")
    reasons = acc.get("dropped_by_reason") or {}
    if isinstance(kept, int | float) and isinstance(dropped, int | float) and kept + dropped > 0:
        total = kept + dropped
        rows = [["kept", kept, Raw(_bar(kept / total))]]
        rows += [[f"dropped: {r}", n, Raw(_bar(n / total))] for r, n in sorted(reasons.items(), key=lambda t: -t[1])]
        out.append(table(["", "fixations", "share"], rows))
    out.append(_quality_section(rep.get("quality")))
    files = acc.get("files")
    if isinstance(files, Mapping) and files:
        frows = []
        for f, rec in sorted(files.items()):
            drops = rec.get("dropped", {}) if isinstance(rec, Mapping) else {}
            noted = rec.get("noted", {}) if isinstance(rec, Mapping) else {}
            frows.append([Path(f).name, rec.get("kept", 0) if isinstance(rec, Mapping) else rec,
                          sum(drops.values()) if isinstance(drops, Mapping) else drops,
                          "; ".join(f"{k}: {v}" for k, v in {**drops, **noted}.items()) or ""])
        shown = frows[:40]
        out.append(f"<h3>Per source file ({len(frows)})</h3>")
        out.append(table(["file", "kept", "dropped", "reasons / notes"], shown, left_cols=1))
        if len(frows) > len(shown):
            out.append(f'<p class="note">… {len(frows) - len(shown)} more files in ingest_report.json.</p>')
    return "".join(out) or '<p class="note">The ingest report is empty.</p>'


def _quality_section(q: Any) -> str:
    """Recording quality per observer and trial (ingest report ``quality``: validation, tracking loss, ...)."""
    if not isinstance(q, Mapping) or not q.get("trials"):
        return ""
    rules = q.get("rules") or {}
    rule_text = ", ".join(f"{k.replace('_', ' ')} = {fmt(v)}" for k, v in rules.items() if v is not None) or "none"
    rows = []
    for t in q["trials"][:60]:
        v, m = t.get("validation_error_deg"), t.get("mean_fixation_ms")
        rows.append([t.get("observer", ""), t.get("trial", ""), t.get("trial_id") or "",
                     "—" if v is None else f"{v:.2f}", f"{100 * float(t.get('tracking_loss', 0)):.1f}%",
                     t.get("blinks", 0), t.get("fixations", 0), "—" if m is None else f"{m:.0f}",
                     t.get("excluded") or ""])
    more = len(q["trials"]) - len(rows)
    return (f"<h3>Recording quality ({fmt(q.get('n_trials'))} trials, {fmt(q.get('n_excluded'))} excluded; "
            f"rules: {esc(rule_text)})</h3>"
            + table(["observer", "trial", "TRIALID", "validation error (°)", "tracking loss", "blinks", "fixations",
                     "mean fixation (ms)", "excluded"], rows, left_cols=3)
            + (f'<p class="note">… {more} more trials in ingest_report.json.</p>' if more > 0 else ""))


def _bar(frac: float) -> str:
    return f'<span class="bar" style="width:{max(1, round(160 * frac))}px"></span> {100 * frac:.1f}%'


_STAGE_ORDER = ("ingest", "maps", "baselines", "train", "evaluate", "report")


def _stages_section(d: ReportData) -> str:
    def order(s: Mapping[str, Any]) -> tuple[int, str]:
        name = str(s.get("stage", ""))
        return (_STAGE_ORDER.index(name) if name in _STAGE_ORDER else len(_STAGE_ORDER), name)

    rows = [[s.get("stage", ""), s.get("status", ""), s.get("duration_s", float("nan")), s.get("finished", ""),
             str(s.get("key", ""))[:12]] for s in sorted(d.stages, key=order)]
    return table(["stage", "status", "seconds", "finished (UTC)", "cache key"], rows, left_cols=2)


def render_report(d: ReportData) -> str:
    """The report as one HTML string (self-contained: inline CSS, PNG data URIs, no scripts)."""
    sections = []
    if d.info:
        sections.append(("run", "Run", kv_table(d.info)))
    sections.append(("metrics", "Metrics", _metrics_section(d)))
    if d.benchmark:
        from saliency.reports.benchmark import benchmark_section_html

        sections.append(("benchmark", "Benchmark (probabilistic, per dataset)", benchmark_section_html(d.benchmark)))
    sections.append(("training", "Training", _curves_section(d)))
    sections.append(("gallery", "Best and worst images", _gallery_section(d)))
    sections.append(("per-image", "Per-image distribution", _per_image_section(d)))
    if d.task == "fixation" or d.ingest is not None:
        sections.append(("ingest", "Ingest", _ingest_section(d)))
    if d.stages:
        sections.append(("stages", "Pipeline stages", _stages_section(d)))
    if d.notes:
        sections.append(("notes", "Notes", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in d.notes) + "</ul>"))
    subtitle = f"task: {d.task} · model: {d.model_name}"
    return page(d.title, subtitle, sections)


def write_report(d: ReportData, path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path, "w") as fh:
        fh.write(render_report(d))
    return path

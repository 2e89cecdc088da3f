"""Tables (Markdown, CSV, JSON) and the attention-map figure of an attention ablation
(:func:`saliency.training.ablation.run_ablation`); :func:`write_ablation_report` writes them all."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from saliency.io import atomic_write, write_json
from saliency.training.ablation import AblationResult
from saliency.training.config import RunConfig

#: Metric columns of the table (summary keys of ``saliency.metrics.evaluate``) and their headings.
METRIC_COLUMNS: dict[str, str] = {"auc_judd": "AUC", "sauc": "sAUC", "nss": "NSS", "cc": "CC", "kl": "KL",
                                  "sim": "SIM"}


# -------------------------------------------------------------------------------------------- tables
def table_columns(datasets: Sequence[str]) -> list[tuple[str, str]]:
    """(row key, heading) of every table column; dataset metrics are keyed ``<dataset>.<metric>``."""
    cols = [("mechanism", "mechanism"), ("parameters_m", "params (M)"), ("macs_g", "MACs (G)"),
            ("latency_ms", "CPU ms")]
    for ds in datasets:
        cols += [(f"{ds}.{k}", f"{ds} {h}") for k, h in METRIC_COLUMNS.items()]
        cols.append((f"{ds}.gap_closed", f"{ds} gap closed"))
    return cols


def flat_row(row: Mapping[str, Any], datasets: Sequence[str]) -> dict[str, Any]:
    """One table row: numbers (None where not available), keys of :func:`table_columns`."""
    out: dict[str, Any] = {"mechanism": row["mechanism"], "parameters_m": row["parameters"] / 1e6,
                           "macs_g": row["macs"] / 1e9, "latency_ms": row["latency_ms"]}
    for ds in datasets:
        ev = row["evaluation"].get(ds, {})
        for k in METRIC_COLUMNS:
            v = ev.get(k)
            out[f"{ds}.{k}"] = float(v) if isinstance(v, (int, float)) else None
        out[f"{ds}.gap_closed"] = row.get("gap_closed", {}).get(ds)
    return out


def _fmt(key: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, str):
        return v
    if key.endswith("gap_closed"):
        return f"{100 * v:.1f} %"
    if key in ("parameters_m", "macs_g"):
        return f"{v:.2f}"
    if key == "latency_ms":
        return f"{v:.0f}"
    return f"{v:.3f}"


def table_text_rows(result: AblationResult) -> tuple[list[str], list[list[str]]]:
    """Headings and formatted cells (shared by the Markdown file and the CLI's rich table)."""
    cols = table_columns(result.datasets)
    cells = []
    for row in result.rows:
        flat = flat_row(row, result.datasets)
        cells.append([_fmt(k, flat[k]) for k, _ in cols])
    return [h for _, h in cols], cells


def write_ablation_report(result: AblationResult, config: RunConfig, *, figure_images: int = 4) -> dict[str, Path]:
    """The tables and (``figure_images`` > 0) ``attention.png`` in ``result.out``; also added to ``result.files``."""
    files = write_tables(result, config)
    if figure_images > 0 and result.rows:
        files["figure"] = attention_figure(result.rows, config, result.out / "attention.png", n_images=figure_images)
    result.files.update(files)
    return files


def write_tables(result: AblationResult, config: RunConfig) -> dict[str, Path]:
    """``ablation.md``, ``ablation.csv`` and ``ablation.json`` in ``result.out`` (atomic)."""
    out = result.out
    cols = table_columns(result.datasets)
    flat = [flat_row(r, result.datasets) for r in result.rows]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([k for k, _ in cols] + ["same_as", "where"])
    for f, r in zip(flat, result.rows, strict=True):
        w.writerow([("" if f[k] is None else f"{f[k]:.6g}" if isinstance(f[k], float) else f[k]) for k, _ in cols]
                   + [r.get("same_as", ""), r["where"]])
    with atomic_write(out / "ablation.csv", "w") as fh:
        fh.write(buf.getvalue())

    info = _run_info(result, config)
    write_json(out / "ablation.json", {**info, "columns": [k for k, _ in cols], "table": flat,
                                       "baselines": result.baselines,
                                       "rows": [{k: v for k, v in r.items() if k not in ("config",)}
                                                for r in result.rows]})
    heads, cells = table_text_rows(result)
    lines = [f"# Attention ablation: {config.name}", "", *[f"- {k}: {v}" for k, v in info["about"].items()], "",
             "| " + " | ".join(heads) + " |", "|" + "|".join(["---"] + ["---:"] * (len(heads) - 1)) + "|"]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    lines += ["", "| mechanism | what | where | note |", "|---|---|---|---|"]
    for r in result.rows:
        note = f"same network as `{r['same_as']}`" if r.get("same_as") else ""
        lines.append(f"| `{r['mechanism']}` | {r['description']} | {r['where']} | {note} |")
    if result.baselines:
        lines += ["", "Baselines (NSS) on the scored stimuli:", ""]
        for ds, b in result.baselines.items():
            lines.append(f"- {ds}: centre-bias Gaussian {b['centre_gaussian_nss']:.3f} (fitted to "
                         f"{b['centre_fit']}), gold standard (leave-one-observer-out) {b['gold_standard_nss']:.3f}, "
                         f"{b['n_images']} images")
    with atomic_write(out / "ablation.md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return {"markdown": out / "ablation.md", "csv": out / "ablation.csv", "json": out / "ablation.json"}


def _run_info(result: AblationResult, config: RunConfig) -> dict[str, Any]:
    latency_hw = result.latency_hw
    r0 = result.rows[0] if result.rows else {}
    threads = sorted({r.get("latency_threads") for r in result.rows if r.get("latency_threads")})
    d = config.data
    conventions = {str(s.get("convention")) for s in r0.get("evaluation", {}).values() if s.get("convention")}
    about = {
        "recipe": f"{config.name} (model {config.model.name}, options {dict(config.model.options) or '{}'})",
        "seed": f"{config.seed} for every mechanism (python, numpy, torch; data order and augmentation "
                "depend only on (seed, epoch))",
        "training": f"{config.train.epochs} epochs max, batch {config.train.batch_size}, canvas "
                    f"{d.height}×{d.width}, optimiser {config.optim.name} lr {config.optim.lr}, "
                    f"best checkpoint by val {config.train.monitor}",
        "scored on": ", ".join(f"{ds} ({(r0.get('evaluation', {}).get(ds, {}) or {}).get('split', '?')}, "
                               f"{(r0.get('evaluation', {}).get(ds, {}) or {}).get('n_images', '?')} images)"
                               for ds in result.datasets) or "–",
        "metrics": "saliency.metrics.evaluate at the stimuli's original resolution (best checkpoint), "
                   f"convention {', '.join(sorted(conventions)) or '?'}; AUC = AUC-Judd; gap closed = "
                   "(NSS − NSS_centre) / (NSS_gold − NSS_centre)",
        "cost": f"parameters; multiply-adds and median CPU latency of one {latency_hw[0]}×{latency_hw[1]} image "
                f"(batch 1, eval, torch threads {threads or '?'}; shared machine: latency is indicative)",
    }
    return {"seed": result.seed, "recipe": config.to_dict(), "datasets": result.datasets,
            "mechanisms": [r["mechanism"] for r in result.rows], "skipped": result.skipped, "about": about}


# -------------------------------------------------------------------------------------------- figure
def _spatial_map(maps: Mapping[str, Any], item: int) -> tuple[str, Any] | None:
    """The highest-resolution map of :func:`saliency.models.introspect.spatial_attention` for batch
    element ``item``: (label, (h, w) tensor), or None without spatial attention."""
    from saliency.models.introspect import spatial_attention

    return max(spatial_attention(maps, item=item), key=lambda p: p[1].numel(), default=None)


def attention_figure(rows: Sequence[Mapping[str, Any]], config: RunConfig, path: Path, *,
                     n_images: int = 4) -> Path:
    """PNG grid: first row the test images with their ground-truth density; then per mechanism, for each
    image, its highest-resolution spatial attention map (``saliency.models.attention_maps``; STN: the warped
    input; channel-only mechanisms: none) and its predicted density, on the letterboxed canvas."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from matplotlib.figure import Figure

    from saliency.datasets import Letterbox, denormalize_image, read_rgb
    from saliency.datasets import normalize_image as norm
    from saliency.models import attention_maps
    from saliency.models.zoo import PAD_MULTIPLE
    from saliency.reports.figures import overlay
    from saliency.shards import open_shards

    ref = next(r for r in rows if "same_as" not in r)
    ds = config.data.dataset
    shards = open_shards(config.data.shards)
    import pandas as pd

    per_image = Path(ref["run_dir"]) / "eval" / ds / "per_image.parquet"
    names = sorted(pd.read_parquet(per_image, columns=["stimulus"])["stimulus"].astype(str))[:n_images]
    h, w = config.data.height, config.data.width
    images, dens = [], []
    for st in names:
        img = read_rgb(shards.image_path(st))
        lb = Letterbox.fit(img.shape[0], img.shape[1], h, w)
        images.append(lb.image_to_canvas(img))
        dens.append(lb.density_to_canvas(np.asarray(shards.density(st), dtype=np.float64)))
    x = torch.stack([norm(im) for im in images])
    hp, wp = -(-h // PAD_MULTIPLE) * PAD_MULTIPLE, -(-w // PAD_MULTIPLE) * PAD_MULTIPLE

    from saliency.training.predict import load_model

    n_cols = 2 * len(names)
    fig = Figure(figsize=(1.6 * n_cols * w / max(h, w) + 1.5, 1.6 * (len(rows) + 1) * h / max(h, w) + 0.5),
                 dpi=100, layout="constrained")
    axes = fig.subplots(len(rows) + 1, n_cols, squeeze=False)
    for j, (img, d, st) in enumerate(zip(images, dens, names, strict=True)):
        axes[0, 2 * j].imshow(img)
        axes[0, 2 * j].set_title(st, fontsize=7)
        axes[0, 2 * j + 1].imshow(overlay(img, d))
        axes[0, 2 * j + 1].set_title("ground truth", fontsize=7)
    axes[0, 0].set_ylabel("image", fontsize=8)
    for i, row in enumerate(rows, start=1):
        run_dir = Path(row["run_dir"])
        model = load_model(run_dir / "checkpoints" / row["checkpoint"]).eval()
        maps = attention_maps(model, x)
        with torch.no_grad():
            pred = model(x)[:, 0].numpy()
        spatial = _spatial_map(maps, 0)
        warped = None
        if spatial is None and getattr(model, "stn", None) is not None:
            with torch.no_grad():
                warped = model.stn(x)
        for j, img in enumerate(images):
            ax_a, ax_p = axes[i, 2 * j], axes[i, 2 * j + 1]
            if spatial is not None:
                label, m = _spatial_map(maps, j)
                m = m[None, None]
                m = F.interpolate(m, size=(hp, wp), mode="bilinear", align_corners=False)[0, 0, :h, :w]
                ax_a.imshow(overlay(img, m.numpy(), cmap="viridis"))
                if j == 0:
                    ax_a.set_title(label, fontsize=6)
            elif warped is not None:
                ax_a.imshow(denormalize_image(warped[j]))
                if j == 0:
                    ax_a.set_title("STN-warped input", fontsize=6)
            else:
                ax_a.imshow(img, alpha=0.35)
                ax_a.text(0.5, 0.5, "no spatial\nattention map", ha="center", va="center", fontsize=7,
                          transform=ax_a.transAxes)
            ax_p.imshow(overlay(img, pred[j], log_density=True))
            if j == 0:
                ax_p.set_title("prediction", fontsize=6)
        axes[i, 0].set_ylabel(row["mechanism"], fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", metadata={"Software": None})
    return path

"""Results tables for the terminal: full names, fixed decimals, never cut (one helper for every command).

A table is row names × column names of preformatted cells. It is printed as plain text as is when it fits
the width (the terminal's, 80 columns when output is not a terminal); otherwise transposed (columns become
rows) when that fits; otherwise the columns are wrapped into consecutive blocks that each repeat the row
names. Names and values are never abbreviated.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence

GAP = "  "


def fmt_value(v: object, decimals: int = 4) -> str:
    """A number with ``decimals`` decimals (integers as they are, NaN as "nan"), anything else as str."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{decimals}f}"
    return str(v)


def _render(corner: str, rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    first = max(len(corner), *(len(r) for r in rows)) if rows else len(corner)
    widths = [max(len(c), *(len(cells[i][j]) for i in range(len(rows)))) if rows else len(c)
              for j, c in enumerate(cols)]
    head = corner.ljust(first) + "".join(GAP + c.rjust(w) for c, w in zip(cols, widths, strict=True))
    lines = [head.rstrip(), "─" * len(head)]
    for i, r in enumerate(rows):
        lines.append(r.ljust(first) + "".join(GAP + cells[i][j].rjust(w) for j, w in enumerate(widths)))
    return lines


def _blocks(corner: str, rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[str]],
            width: int) -> list[str]:
    """Columns wrapped into blocks no wider than ``width`` (at least one column per block)."""
    first = max(len(corner), *(len(r) for r in rows)) if rows else len(corner)
    out: list[str] = []
    j = 0
    while j < len(cols):
        used, k = first, j
        while k < len(cols):
            w = len(GAP) + max(len(cols[k]), *(len(cells[i][k]) for i in range(len(rows)))) if rows else len(cols[k])
            if k > j and used + w > width:
                break
            used += w
            k += 1
        if out:
            out.append("")
        out.extend(_render(corner, rows, cols[j:k], [row[j:k] for row in cells]))
        j = k
    return out


def table_lines(title: str, rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[str]], *,
                corner: str = "", width: int | None = None) -> list[str]:
    """The lines of a results table (title first) fitting ``width`` columns (default: the terminal's)."""
    width = width or shutil.get_terminal_size((80, 24)).columns
    lines = _render(corner, rows, cols, cells)
    if max(len(x) for x in lines) > width:
        t_cells = [[cells[i][j] for i in range(len(rows))] for j in range(len(cols))]
        t_lines = _render(corner, cols, rows, t_cells)
        if max(len(x) for x in t_lines) <= width:
            lines = t_lines
        else:
            lines = _blocks(corner, rows, cols, cells, width)
    return [title, *lines]


def print_table(title: str, rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[str]], *,
                corner: str = "", width: int | None = None) -> None:
    """Print :func:`table_lines` on stdout (plain text: nothing is cut or styled)."""
    print("\n".join(table_lines(title, rows, cols, cells, corner=corner, width=width)))


def print_results(title: str, summaries: dict[str, dict], metrics: Sequence[str], *, decimals: int = 4,
                  maps: dict[str, str] | None = None, width: int | None = None) -> None:
    """A results table: one row per summary (model or baseline), one column per metric (full name and ↑/↓
    from the metric registry), the image count last. ``maps`` (metric → map kind, probabilistic evaluation)
    adds a row naming the metric-specific map each metric was scored on, and a legend."""
    from saliency.metrics.streaming import METRICS

    cols = []
    for m in metrics:
        spec = METRICS.get(m) if m in METRICS else None
        cols.append(f"{m} {'↑' if spec is None or spec.higher_is_better else '↓'}")
    cols.append("images")
    cells = []
    for s in summaries.values():
        n = f"{s['n_images']}" + (f" ({s['n_skipped']} skipped)" if s.get("n_skipped") else "")
        cells.append([fmt_value(s.get(m, float("nan")), decimals) for m in metrics] + [n])
    rows = list(summaries)
    if maps:
        from saliency.metrics.probabilistic import MAP_LABELS

        rows.append("map")
        cells.append([MAP_LABELS.get(maps.get(m, ""), "") for m in metrics] + [""])
    print_table(title, rows, cols, cells, width=width)
    if maps:
        bases = {s.get("sauc_baseline", "centre") for s in summaries.values()}
        nonfix = ("the model's average density over the other images" if bases == {"model"}
                  else "centre-bias density" if bases == {"centre"} else "nonfixation density (see sauc_baseline)")
        print(f"maps: p density · p/p_c density ÷ {nonfix} · E[ESM] expected empirical saliency map")

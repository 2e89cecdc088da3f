"""Self-contained HTML: inline CSS, images as base64 PNG data URIs, no scripts, no external resources."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

CSS = """
:root { --fg:#1d2330; --muted:#5d6778; --line:#d9dee7; --accent:#b03a2e; --bg:#ffffff; --soft:#f4f6f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; }
th { background: var(--soft); font-weight: 600; }
td.l, th.l { text-align: left; }
tr.model td { font-weight: 700; color: var(--accent); }
.kv td { text-align: left; }
.kv td:first-child { color: var(--muted); padding-right: 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.card { background: var(--soft); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: 700; }
.card .k { color: var(--muted); font-size: 12px; }
.gallery-row { display: flex; gap: 8px; align-items: flex-start; margin: 8px 0 18px; flex-wrap: wrap; }
figure { margin: 0; }
figure img { display: block; width: 184px; height: auto; image-rendering: auto; border: 1px solid var(--line); }
figcaption { font-size: 11px; color: var(--muted); text-align: center; width: 184px; overflow-wrap: anywhere; }
figure.plot img { width: auto; max-width: 100%; height: auto; }
.note { color: var(--muted); font-style: italic; }
.bar { display: inline-block; height: 10px; background: var(--accent); vertical-align: middle; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; }
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def data_uri_png(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str, *, caption: str | None = None, cls: str = "") -> str:
    tag = f'<img src="{data_uri_png(png)}" alt="{esc(alt)}">'
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="{esc(cls)}">{tag}{cap}</figure>'


def fmt(v: Any, digits: int = 4) -> str:
    if isinstance(v, bool) or v is None:
        return esc(v)
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "–"
        return f"{float(v):.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{float(v):.{digits}f}"
    return esc(v)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, left_cols: int = 1,
          row_classes: Sequence[str] | None = None, cls: str = "") -> str:
    """An HTML table; the first ``left_cols`` columns are left-aligned text, the rest numbers."""
    head = "".join(f'<th class="{"l" if i < left_cols else ""}">{esc(h)}</th>' for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        rc = row_classes[r] if row_classes is not None and r < len(row_classes) else ""
        cells = "".join(f'<td class="{"l" if i < left_cols else ""}">{v if isinstance(v, Raw) else fmt(v)}</td>'
                        for i, v in enumerate(row))
        body.append(f'<tr class="{rc}">{cells}</tr>')
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


class Raw(str):
    """Already-escaped HTML to put into a table cell as is."""


def kv_table(items: Mapping[str, Any]) -> str:
    return table(["", ""], [(k, v) for k, v in items.items()], left_cols=2, cls="kv").replace(
        "<thead><tr><th class=\"l\"></th><th class=\"l\"></th></tr></thead>", "")


def cards(items: Mapping[str, Any]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v">{v if isinstance(v, Raw) else fmt(v, 3)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in items.items()) + "</div>"


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A complete HTML document: ``sections`` are (anchor id, heading, body HTML)."""
    nav = " · ".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in sections)
    body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{b}</section>' for a, h, b in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body><main><h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p>"
        f"<nav class=\"sub\">{nav}</nav>{body}</main></body></html>\n"
    )

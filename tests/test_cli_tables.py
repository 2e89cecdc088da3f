"""The shared results table of the CLI: nothing cut, fits 80 columns (transposed or wrapped when wide)."""

from __future__ import annotations

from saliency.cli.tables import fmt_value, table_lines

METRICS = ["auc_judd ↑", "auc_borji ↑", "sauc ↑", "nss ↑", "cc ↑", "kl ↓", "sim ↑", "ig ↑", "images"]
ROWS = ["chance", "centre_gaussian", "centre_loo", "gold_standard", "one_human"]


def _cells(rows, cols):
    return [[fmt_value(0.123456 * (i + 1) * (j + 1)) if j < len(cols) - 1 else "700" for j in range(len(cols))]
            for i in range(len(rows))]


def test_narrow_table_stays_as_is():
    lines = table_lines("t", ["model"], ["nss ↑", "images"], [["1.2346", "700"]], width=80)
    assert lines[0] == "t" and "model" in lines[3] and "1.2346" in lines[3]


def test_wide_results_table_fits_80_columns_with_full_names_and_values():
    cells = _cells(ROWS, METRICS)
    lines = table_lines("baselines", ROWS, METRICS, cells, width=80)
    assert max(len(x) for x in lines) <= 80
    text = "\n".join(lines)
    for name in ROWS + METRICS:
        assert name in text                     # never abbreviated ("cent…")
    for row in cells:
        for v in row:
            assert v in text


def test_too_wide_even_transposed_wraps_into_blocks():
    rows = [f"mechanism_{k:02d}_with_a_long_name" for k in range(6)]
    cols = [f"metric_number_{k}" for k in range(9)]
    lines = table_lines("ablation", rows, cols, _cells(rows, cols), width=60)
    assert max(len(x) for x in lines) <= 60
    text = "\n".join(lines)
    assert all(c in text for c in cols) and text.count(rows[0]) >= 2   # each block repeats the row names


def test_fmt_value():
    assert fmt_value(0.1234567) == "0.1235" and fmt_value(3, 4) == "3" and fmt_value(float("nan")) == "nan"
    assert fmt_value(1.5, 3) == "1.500"

"""Self-contained HTML run reports: metrics against baselines, training curves, galleries, ingest."""

from saliency.reports.report import GalleryItem, ReportData, gap_closed_of, render_report, write_report
from saliency.reports.rundir import build_report, collect

__all__ = ["GalleryItem", "ReportData", "build_report", "collect", "gap_closed_of", "render_report", "write_report"]

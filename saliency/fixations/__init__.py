"""Fixation tables: the canonical schema, validation, filters and fixation detection."""

from saliency.fixations.table import (
    COLUMNS,
    DatasetMeta,
    FixationTable,
    StimulusInfo,
    concat_tables,
)

__all__ = ["COLUMNS", "DatasetMeta", "FixationTable", "StimulusInfo", "concat_tables"]

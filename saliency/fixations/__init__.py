"""Fixation tables: the canonical schema, validation, filters, fixation selection and fixation detection."""

from saliency.fixations.selection import FixationSelection, parse_selection
from saliency.fixations.table import (
    COLUMNS,
    DatasetMeta,
    FixationTable,
    StimulusInfo,
    concat_tables,
)

__all__ = ["COLUMNS", "DatasetMeta", "FixationSelection", "FixationTable", "StimulusInfo", "concat_tables",
           "parse_selection"]

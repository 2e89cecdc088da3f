"""Readers: one module per recording format, each returning canonical fixation rows.

See :mod:`saliency.readers.base` for the options, accounting and finalisation every reader shares.
"""

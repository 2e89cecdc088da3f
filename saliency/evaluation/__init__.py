"""Workflows that run a model and then score it (above training, below reports).

:mod:`saliency.evaluation.predictions`: a checkpoint as a prediction source for ``saliency evaluate``.
:mod:`saliency.evaluation.submission`: benchmark submissions (MIT300 / CAT2000 JPEGs, Tübingen HDF5).
"""

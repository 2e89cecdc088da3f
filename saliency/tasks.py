"""The task vocabulary (core layer): what a model predicts, named once for configs, pipelines and the zoo.

``fixation``: fixation prediction; a model outputs a log-density over the image's pixels, scored by
:mod:`saliency.metrics.fixation`. ``sod``: salient-object detection; a model outputs per-pixel logits,
scored by :mod:`saliency.metrics.sod`.
"""

from __future__ import annotations

from typing import Literal

Task = Literal["fixation", "sod"]
TASKS: tuple[Task, ...] = ("fixation", "sod")

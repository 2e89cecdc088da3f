"""Training of fixation-prediction and salient-object networks (CPU by default; GPU, multi-GPU)."""

from saliency.training.config import (
    DataConfig,
    LossConfig,
    ModelChoice,
    OptimConfig,
    RunConfig,
    TrainConfig,
    load_config,
)
from saliency.training.loop import RunResult, train
from saliency.training.losses import LOSSES, WeightedObjective
from saliency.training.predict import load_model, predict_maps

__all__ = [
    "LOSSES", "DataConfig", "LossConfig", "ModelChoice", "OptimConfig", "RunConfig", "RunResult",
    "TrainConfig", "WeightedObjective", "load_config", "load_model", "predict_maps", "train",
]

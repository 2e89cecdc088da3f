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
from saliency.training.predict import is_model_ref, load_model, predict_maps, resolve_model

__all__ = [
    "LOSSES", "DataConfig", "LossConfig", "ModelChoice", "OptimConfig", "RunConfig", "RunResult",
    "TrainConfig", "WeightedObjective", "is_model_ref", "load_config", "load_model", "predict_maps", "resolve_model",
    "train",
]

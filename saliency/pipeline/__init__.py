"""Declarative pipelines: ingest → maps → baselines → train → evaluate → report, cached per stage."""

from saliency.pipeline.runner import RunReport, Stage, StageContext, StageFailed, StageOutcome, run_pipeline
from saliency.pipeline.spec import PipelineSpec, load_pipeline

__all__ = ["PipelineSpec", "RunReport", "Stage", "StageContext", "StageFailed", "StageOutcome",
           "load_pipeline", "run_pipeline"]

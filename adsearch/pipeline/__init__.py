"""The YAML-driven search pipeline (``adsearch run``) with a content-hash step cache.

>>> from adsearch.pipeline import quickstart_config, plan_steps
>>> plan_steps(quickstart_config())[:4]
['background', 'signal', 'events', 'features']
"""

from adsearch.pipeline.cache import file_hash, input_key, read_record, run_step, step_key
from adsearch.pipeline.config import (
    InjectConfig,
    InputConfig,
    PipelineConfig,
    ReportConfig,
    ScoreConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    override_config,
)
from adsearch.pipeline.defaults import QUICKSTART_YAML, quickstart_config
from adsearch.pipeline.report import max_sic, roc_auc, roc_curve
from adsearch.pipeline.run import STEPS, RunResult, StepResult, plan_steps, run_pipeline
from adsearch.pipeline.steps import Products, Step

__all__ = [
    "QUICKSTART_YAML",
    "STEPS",
    "InjectConfig",
    "InputConfig",
    "PipelineConfig",
    "Products",
    "ReportConfig",
    "RunResult",
    "ScoreConfig",
    "Step",
    "StepResult",
    "config_from_dict",
    "config_to_dict",
    "file_hash",
    "input_key",
    "load_config",
    "max_sic",
    "override_config",
    "plan_steps",
    "quickstart_config",
    "read_record",
    "roc_auc",
    "roc_curve",
    "run_pipeline",
    "run_step",
    "step_key",
]

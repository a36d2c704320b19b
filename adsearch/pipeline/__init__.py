"""The YAML-driven search pipeline with a content-hash step cache."""

from adsearch.pipeline.cache import file_hash, run_step, step_key

__all__ = ["file_hash", "run_step", "step_key"]

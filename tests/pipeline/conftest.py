"""The tiny generated pipeline run shared by the pipeline tests (made once per session)."""

from __future__ import annotations

import pytest

from adsearch.pipeline import run_pipeline
from tests.pipeline.common import TINY


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    cfg = d / "tiny.yaml"
    cfg.write_text(TINY)
    lines: list[str] = []
    res = run_pipeline(cfg, d / "out", log=lines.append, progress=False)
    return cfg, d / "out", res, lines

"""Static typing: mypy on the package, with the settings of pyproject.toml ([tool.mypy]).

Every package is checked strictly (mypy's --strict flag by flag, except warn_return_any;
the module list of the ``[[tool.mypy.overrides]]``); mypy is a dev dependency
(``pip install -e ".[dev]"``), so this test runs everywhere the tests run. The incremental
cache (``.mypy_cache``) keeps a rerun to a few seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_mypy_passes():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Helpers shared by the benchmark scripts.

The scripts run as ``python benchmarks/bench_X.py``: this folder is then the first entry of
``sys.path``, so ``from _common import ...`` finds this module.
"""

from __future__ import annotations

import resource

__all__ = ["cpu_seconds"]


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its children that have been waited
    for (generation and feature workers): a duration is the difference of two calls."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

"""Process pools whose workers do not outlive the process that started them.

``concurrent.futures.ProcessPoolExecutor`` workers notice a dead parent only when they next
read their call queue: a worker in the middle of a long task (a classifier member, a block of
Pythia events) keeps computing for minutes after its parent was killed, for results that have
nowhere to go. Measured here: two orphaned ensemble workers of a killed CATHODE run kept both
cores busy for 20 minutes. Each worker of :func:`spawn_pool` runs a daemon thread that polls
its parent's process id and ends the worker when the parent is gone (written here: the
standard library offers no parent-death hook, and ``prctl(PR_SET_PDEATHSIG)`` is Linux-only).

Examples
--------
>>> with spawn_pool(1) as pool:
...     pool.submit(abs, -3).result()
3
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["spawn_pool"]

#: seconds between two looks at the parent
POLL_SECONDS = 0.5


def _watch_parent(parent: int, poll: float) -> None:
    while True:
        time.sleep(poll)
        if os.getppid() != parent:  # re-parented: the process that started us has died
            os._exit(1)


def _init(
    parent: int, poll: float, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]
) -> None:
    threading.Thread(
        target=_watch_parent, args=(parent, poll), daemon=True, name="adsearch-parent-watch"
    ).start()
    if initializer is not None:
        initializer(*initargs)


def spawn_pool(
    workers: int,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    poll: float = POLL_SECONDS,
) -> ProcessPoolExecutor:
    """A ``spawn``-context process pool of ``workers`` processes that end with their parent.

    ``spawn``, not ``fork``: torch, OpenMP, fastjet and pyarrow state is not fork-safe by
    promise, and the parent may run a progress-bar thread. ``initializer(*initargs)`` runs in
    every worker, as for ``ProcessPoolExecutor``.
    """
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init,
        initargs=(os.getpid(), poll, initializer, initargs),
    )

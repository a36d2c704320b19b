"""Workers of ``adsearch.parallel.spawn_pool`` end when their parent dies mid-task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from adsearch.parallel import spawn_pool

PARENT = textwrap.dedent(
    """
    import os, sys, time
    from adsearch.parallel import spawn_pool

    with spawn_pool(2, poll=0.1) as pool:
        futures = [pool.submit(time.sleep, 600) for _ in range(2)]  # a long task each
        time.sleep(1.0)
        print(" ".join(str(p) for p in pool._processes), flush=True)
        time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead: read its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_parent_is_killed_mid_task():
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            workers = [int(p) for p in parent.stdout.readline().split()]
            assert len(workers) == 2 and all(_alive(p) for p in workers)
            parent.send_signal(signal.SIGKILL)  # no cleanup of any kind in the parent
            parent.wait(timeout=10)
            deadline = time.monotonic() + 10
            while any(_alive(p) for p in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(_alive(p) for p in workers), "orphaned workers kept running"
        finally:
            parent.kill()


def _set(key: str, value: str) -> None:
    os.environ[key] = value


def _get(key: str) -> str | None:
    return os.environ.get(key)


def test_the_pool_runs_its_initializer_and_tasks():
    with spawn_pool(1, initializer=_set, initargs=("ADSEARCH_T", "7")) as pool:
        assert pool.submit(_get, "ADSEARCH_T").result() == "7"
        assert pool.submit(os.getppid).result() == os.getpid()

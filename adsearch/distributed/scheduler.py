"""Where dask work runs: a scheduler address, a local cluster, or a client you already have.

:func:`dask_client` turns a *scheduler spec* into a connected :class:`distributed.Client`:

* ``None`` or ``"local"``: a :class:`distributed.LocalCluster` with one single-threaded worker
  process per core (``os.cpu_count()``);
* ``"local:N"``: a LocalCluster with ``N`` single-threaded worker processes;
* ``"tcp://HOST:PORT"`` (or ``"HOST:PORT"``, any ``scheme://``): an existing scheduler, e.g.
  started with ``dask scheduler`` and ``dask worker tcp://HOST:8786 --nthreads 1`` on each node;
* a :class:`distributed.Client`: used as is and left open.

Workers are *processes* with one thread each: clustering (fastjet) and N-subjettiness hold the
GIL for part of their time, so threads would not scale; every worker needs ``adsearch``
installed and the input files readable at the same path (shared file system).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from adsearch.errors import AdsearchError, ConfigError

__all__ = ["dask_client", "parse_scheduler"]

_LOCAL = re.compile(r"^local(?::(\d+))?$")


def parse_scheduler(spec: str | None) -> tuple[str, int | str]:
    """``("local", n_workers)`` or ``("address", address)`` from a scheduler spec.

    Examples
    --------
    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.1:8786")
    (('local', 2), ('address', 'tcp://10.0.0.1:8786'))
    >>> parse_scheduler("local:0")
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: scheduler: 'local:0' needs at least one worker
    """
    if spec is None:
        return "local", max(os.cpu_count() or 1, 1)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"scheduler: expected 'local[:N]' or a scheduler address, got {spec!r}")
    s = spec.strip()
    m = _LOCAL.match(s)
    if m:
        n = int(m.group(1)) if m.group(1) is not None else max(os.cpu_count() or 1, 1)
        if n < 1:
            raise ConfigError(f"scheduler: {spec!r} needs at least one worker")
        return "local", n
    if s.startswith("local"):
        raise ConfigError(f"scheduler: expected 'local' or 'local:N' (N workers), got {spec!r}")
    if "://" not in s:
        if not re.match(r"^[\w.\-\[\]:]+:\d+$", s):
            raise ConfigError(
                f"scheduler: expected 'local[:N]' or an address like tcp://HOST:8786, got {spec!r}"
            )
        s = f"tcp://{s}"
    return "address", s


@contextlib.contextmanager
def dask_client(scheduler: Any = None, *, timeout: float = 30.0) -> Iterator[Any]:
    """Yield a connected ``distributed.Client`` for ``scheduler`` (see the module docstring).

    A cluster or client created here is closed on exit; a client passed in is not.
    An unreachable address raises :class:`~adsearch.errors.AdsearchError` (one line).
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    kind, value = parse_scheduler(scheduler)
    if kind == "local":
        # no dashboard (no port to bind, nothing to serve in batch jobs); one thread per
        # worker process (see the module docstring); spill/pause thresholds left at defaults
        with (
            LocalCluster(
                n_workers=int(value),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,  # logging.ERROR: no worker chatter on the user's terminal
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(str(value), timeout=timeout)
    except (OSError, TimeoutError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AdsearchError(f"scheduler {value}: cannot connect ({msg})") from None
    with client:
        yield client

"""Atomic output: write to a temporary file beside the target, then rename.

A crash or an error half-way never leaves a truncated output under the final name. The
temporary file is hidden and named after the target and its writer,
``.NAME.PID@HOST.XXXXXXXX.tmp``; a process killed with ``SIGKILL`` cannot remove it, so the
next write of the same target sweeps such leftovers (:func:`sweep_stale_tmp`) — never the
file of a writer that may still be running.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from adsearch.errors import InputError

__all__ = ["STALE_SECONDS", "atomic_path", "sweep_stale_tmp"]

#: A temporary file whose writer cannot be checked (another host, or a name without a pid)
#: is stale when it has not been modified for this long.
STALE_SECONDS = 24 * 3600.0

_TMP_SUFFIX = ".tmp"
# the part after ".NAME.": "PID@HOST.RANDOM" (ours) or "RANDOM" (older adsearch versions);
# RANDOM is tempfile's 8 characters
_OWNED = re.compile(r"(?P<pid>[0-9]+)@(?P<host>[A-Za-z0-9-]+)\.[a-z0-9_]{8}")
_LEGACY = re.compile(r"[a-z0-9_]{8}")
# names of the temporary files this process is writing (a same-pid file not in here is a
# leftover of an earlier process that had our pid, e.g. in a container)
_OWN: set[str] = set()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _is_stale(tmp: Path, middle: str, host: str, now: float) -> bool:
    owned = _OWNED.fullmatch(middle)
    if owned is not None and owned["host"] == host:
        pid = int(owned["pid"])
        if pid == os.getpid():
            return tmp.name not in _OWN
        return not _pid_alive(pid)
    if owned is None and _LEGACY.fullmatch(middle) is None:
        return False  # not a temporary file of this target (e.g. of target NAME.other)
    try:
        return now - tmp.stat().st_mtime > STALE_SECONDS
    except OSError:
        return False


def sweep_stale_tmp(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left beside it.

    A file ``.NAME.PID@HOST.XXXXXXXX.tmp`` of this host is removed when process ``PID`` no
    longer exists (or is this process, which did not create it). Files of other hosts and
    files of older adsearch versions (``.NAME.XXXXXXXX.tmp``) are removed when unmodified
    for :data:`STALE_SECONDS`. Files of other targets are never touched; errors (a file
    removed meanwhile, no permission) are ignored.

    Parameters
    ----------
    path
        The target file whose directory is swept.

    Returns
    -------
    list of Path
        The files removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> dead = d / ".r.json.999999999@other-host.abcdefgh.tmp"
    >>> _ = dead.write_text("half")
    >>> sweep_stale_tmp(d / "r.json")  # another host, modified just now: may be running
    []
    """
    target = Path(path)
    prefix = f".{target.name}."
    host, now = _host(), time.time()
    removed = []
    try:
        candidates = list(target.parent.glob(f"{_glob_escape(prefix)}*{_TMP_SUFFIX}"))
    except OSError:
        return []
    for tmp in candidates:
        middle = tmp.name[len(prefix) : -len(_TMP_SUFFIX)]
        if _is_stale(tmp, middle, host, now):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _glob_escape(text: str) -> str:
    """``text`` with the glob metacharacters ``*?[`` taken literally.

    >>> _glob_escape("a[1]*.h5")
    'a[[]1][*].h5'
    """
    return re.sub(r"([*?[])", r"[\1]", text)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched. Leftover
    temporary files of ``path`` from killed writers are removed first
    (:func:`sweep_stale_tmp`).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text(json.dumps({"a": 1}))
    >>> json.loads(out.read_text())
    {'a': 1}
    """
    target = Path(path)
    # an unusable output path is the user's to fix: one line, not an OSError traceback
    if target.is_dir():
        raise InputError(f"{target}: is a directory (give an output file name)")
    existing = next((p for p in target.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"{target}: {existing} is a file, not a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_tmp(target)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}@{_host()}.",
            suffix=_TMP_SUFFIX,
            dir=target.parent,
        )
    except OSError as e:
        raise InputError(f"{target}: cannot write the output there ({e.strerror or e})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    _OWN.add(tmp.name)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp creates 0600; give the file the usual umask permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        _OWN.discard(tmp.name)

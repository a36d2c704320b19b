"""Atomic writes and the sweep of temporary files left by killed writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adsearch.errors import InputError
from adsearch.io import atomic
from adsearch.io.atomic import STALE_SECONDS, atomic_path, sweep_stale_tmp

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, **kw)


def _dead_pid() -> int:
    proc = _python("pass")
    proc.wait(30)
    return proc.pid


def _tmp_name(target: str, pid: int, host: str | None = None, rand: str = "abcd_123") -> str:
    return f".{target}.{pid}@{host or atomic._host()}.{rand}.tmp"


def _old(path: Path) -> Path:
    t = time.time() - STALE_SECONDS - 60
    os.utime(path, (t, t))
    return path


def test_write_renames_and_leaves_no_tmp(tmp_path):
    out = tmp_path / "r.json"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f".r.json.{os.getpid()}@")
        tmp.write_text("x")
    assert out.read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_error_keeps_the_old_output_and_removes_the_tmp(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_unusable_output_paths_are_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match="is a directory"), atomic_path(tmp_path):
        pass
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(InputError, match="is a file, not a directory"), atomic_path(f / "x"):
        pass


def test_sigkill_leftover_is_swept_by_the_next_write(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import os, signal\n"
        "from adsearch.io.atomic import atomic_path\n"
        f"with atomic_path({str(out)!r}) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = _python(code)
    assert proc.wait(60) == -signal.SIGKILL
    left = list(tmp_path.glob(".r.json.*.tmp"))
    assert len(left) == 1 and f".{proc.pid}@" in left[0].name and not out.exists()
    with atomic_path(out) as tmp:
        tmp.write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_dead_writers_files_go_other_targets_and_live_writers_stay(tmp_path):
    dead = tmp_path / _tmp_name("r.json", _dead_pid())
    live = tmp_path / _tmp_name("r.json", os.getppid())  # our parent is running
    other_target = tmp_path / _tmp_name("r.json.bak", _dead_pid())
    unrelated = tmp_path / ".r.json.notes.tmp"
    for p in (dead, live, other_target, unrelated):
        p.write_text("x")
    assert sweep_stale_tmp(tmp_path / "r.json") == [dead]
    assert live.exists() and other_target.exists() and unrelated.exists()
    assert sweep_stale_tmp(tmp_path / "r.json.bak") == [other_target]


def test_own_pid_leftover_of_an_earlier_process_goes_own_open_tmp_stays(tmp_path):
    # an earlier process with our pid (pid reuse, containers) left this file
    earlier = tmp_path / _tmp_name("r.json", os.getpid())
    earlier.write_text("x")
    out = tmp_path / "r.json"
    with atomic_path(out) as first:
        assert not earlier.exists()
        first.write_text("first")
        with atomic_path(out) as second:  # a second writer of the same target, same process
            assert first.exists()
            second.write_text("second")
        assert first.exists()
    assert out.read_text() == "first"


def test_unknown_writers_files_go_only_when_old(tmp_path):
    foreign = tmp_path / _tmp_name("r.json", 4242, host="other-host")
    legacy = tmp_path / ".r.json.k3j_9xq2.tmp"  # name written by older versions
    for p in (foreign, legacy):
        p.write_text("x")
    assert sweep_stale_tmp(tmp_path / "r.json") == []
    _old(foreign)
    _old(legacy)
    assert sorted(sweep_stale_tmp(tmp_path / "r.json")) == sorted([foreign, legacy])


def test_a_concurrent_writer_in_another_process_is_not_disturbed(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import sys\n"
        "from adsearch.io.atomic import atomic_path\n"
        f"with atomic_path({str(out)!r}) as tmp:\n"
        "    tmp.write_text('child')\n"
        "    print('ready', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    proc = _python(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        child_tmp = next(tmp_path.glob(f".r.json.{proc.pid}@*.tmp"))
        with atomic_path(out) as tmp:
            tmp.write_text("parent")
        assert child_tmp.read_text() == "child"
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdin.close()
        proc.stdout.close()
    assert out.read_text() == "child"  # the later rename wins
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_glob_metacharacters_in_the_target_name(tmp_path):
    dead = tmp_path / _tmp_name("r[1].json", _dead_pid())
    near = tmp_path / _tmp_name("r1.json", _dead_pid())
    dead.write_text("x")
    near.write_text("x")
    assert sweep_stale_tmp(tmp_path / "r[1].json") == [dead]
    assert near.exists()

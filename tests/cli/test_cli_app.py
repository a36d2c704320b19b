"""The CLI package as a whole: entry points, help of every verb, the generated reference, and
what the CLI may not do (import private Typer, write files, import heavy libraries)."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer.main

import adsearch.cli
from adsearch.cli import app, main

ROOT = Path(__file__).resolve().parents[2]
CLI_DIR = ROOT / "adsearch" / "cli"
VERBS = [
    "info", "generate", "mix", "simulate", "features", "train", "pretrain", "embed", "score",
    "export", "weak", "fit", "bumphunt", "limits", "run",
]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_verbs_in_order():
    group = typer.main.get_command(app)
    assert list(group.commands) == VERBS


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_help_renders(verb, capsys):
    assert main([verb, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"{verb} [OPTIONS]" in out and "--help" in out


def test_root_help_lists_every_verb(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f" {v} " in out for v in VERBS)


def test_python_m_and_the_console_script_target():
    res = _run("-m", "adsearch.cli", "fit", "--help")
    assert res.returncode == 0, res.stderr
    assert "--range" in res.stdout and "Traceback" not in res.stderr
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["adsearch"].split(":")
    assert getattr(importlib.import_module(module), func) is adsearch.cli.cli_entry


def test_usage_and_user_errors_are_one_line_without_traceback(tmp_path):
    res = _run("-m", "adsearch.cli", "fit", str(tmp_path / "none.npy"), "-o", str(tmp_path))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"error: {tmp_path / 'none.npy'}: no such file"]
    res = _run("-m", "adsearch.cli", "fit", "--bogus")
    assert res.returncode == 2 and "No such option" in res.stderr
    assert "Traceback" not in res.stderr


def test_reference_generated_from_the_cli():
    """The docs' CLI reference comes from Typer's docs utility run on `adsearch.cli`."""
    res = _run("-m", "typer", "adsearch.cli", "utils", "docs", "--name", "adsearch")
    assert res.returncode == 0, res.stderr
    for verb in VERBS:
        assert f"## `adsearch {verb}`" in res.stdout
    assert "--score-column" in res.stdout and "--set" in res.stdout


def test_help_imports_no_heavy_library():
    heavy = "torch numpy awkward fastjet pythia8 pandas sympy h5py pyarrow matplotlib pyhf"
    code = (
        "import sys, adsearch.cli\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy.split()!r})))"
    )
    res = _run("-c", code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def _sources() -> list[tuple[Path, ast.Module]]:
    files = sorted(CLI_DIR.glob("*.py"))
    assert len(files) >= 8
    return [(f, ast.parse(f.read_text(), str(f))) for f in files]


def test_no_private_typer_or_click_imports():
    for path, tree in _sources():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("typer._", "click")), f"{path.name}: {name}"


WRITERS = {"open", "write_text", "write_bytes", "mkdir", "touch", "unlink", "rmtree",
           "to_hdf", "to_parquet", "to_csv", "savefig", "dump", "atomic_path"}  # fmt: skip
OS_WRITERS = {"replace", "rename", "remove", "unlink", "makedirs", "mkdir", "rmdir", "write"}


def test_the_cli_writes_no_file_itself():
    """Outputs are written by library functions (atomically), never by the CLI."""
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
                where = f"{path.name}:{node.lineno}: {name}(...)"
                assert name not in WRITERS, where
                owner = getattr(getattr(f, "value", None), "id", None)
                assert owner != "shutil" and not (owner == "os" and name in OS_WRITERS), where


def test_sigterm_unwinds_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    """With the console script's SIGTERM handler, `kill PID` raises Terminated: the output
    being written is not created, its temporary file is removed, and main exits 143."""
    import signal

    app_module = importlib.import_module("adsearch.cli.app")
    from adsearch.io.atomic import atomic_path

    before = signal.getsignal(signal.SIGTERM)
    target = tmp_path / "out.parquet"
    try:
        app_module.handle_sigterm()
        with pytest.raises(app_module.Terminated), atomic_path(target) as tmp:
            tmp.write_text("partial")
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert list(tmp_path.iterdir()) == []

    def killed(**_: object) -> None:
        raise app_module.Terminated

    monkeypatch.setattr(app_module, "app", killed)
    assert app_module.main(["info"]) == 143
    assert capsys.readouterr().err.strip() == "terminated"

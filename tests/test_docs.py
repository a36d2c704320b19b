"""Every code example of README.md and docs/ runs here, and the docs site builds.

- ```python blocks run in order, per page, in one namespace (later blocks build on earlier
  ones), in a temporary directory that links ``tests/``, ``analyses/`` and ``benchmarks/``
  of the repository (so examples read ``tests/data/...`` and write beside themselves).
- ```pycon blocks (``>>>`` lines with their expected output) run as doctests in the same
  namespace.
- Shell blocks (bash/console): every ``adsearch`` command line (also ``-m adsearch.cli``
  under torchrun/python) must name an existing verb and only options that verb has, with no
  more positional arguments than it takes. Nothing is executed.
- A block preceded by ``<!-- skip: REASON -->`` is not run (big data, cluster, minutes);
  keep those few: their reasons are listed by ``test_skipped_blocks_are_few``.
- The site builds with ``mkdocs build --strict`` (zero warnings) when the docs tools are
  installed (``pip install -e ".[docs]"``, part of ``.[dev]``).
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINKED = ("tests", "analyses", "benchmarks")  # repository folders examples may read

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.M | re.S,
)
SKIP = re.compile(r"<!--\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")
PYTHON, PYCON, SHELL = {"python", "py"}, {"pycon"}, {"bash", "sh", "console", "shell"}
MAX_SKIPPED = 12


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    lang: str
    code: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of one Markdown page, with their skip markers."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        indent = len(m.group("indent"))
        code = "\n".join(line[indent:] for line in m.group("body").splitlines())
        line = text.count("\n", 0, m.start()) + 2
        out.append(Block(page, line, m.group("lang").lower(), code, skip and skip["reason"]))
    return out


ALL = [b for page in PAGES for b in blocks(page)]
RUN_PAGES = sorted({b.page for b in ALL if b.lang in PYTHON | PYCON and not b.skip})


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture
def example_dir(tmp_path, monkeypatch):
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.parametrize("page", RUN_PAGES, ids=_page_id)
def test_python_examples(page: Path, example_dir: Path) -> None:
    """The page's python and pycon blocks run, in order, in one namespace."""
    ns: dict = {"__name__": "__docs__"}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for b in blocks(page):
        if b.skip or b.lang not in PYTHON | PYCON:
            continue
        if b.lang in PYTHON:
            # pad so tracebacks give the line in the Markdown file
            code = compile("\n" * (b.line - 1) + b.code, str(b.page), "exec")
            try:
                exec(code, ns)
            except Exception as e:
                e.add_note(f"in the example at {b.where}")
                raise
        else:
            test = doctest.DocTestParser().get_doctest(b.code, ns, b.where, str(b.page), b.line)
            result = runner.run(test, clear_globs=False)
            assert result.failed == 0, f"{b.where}: doctest failed (output above)"


# ------------------------------------------------------------------ shell commands


def _cli():
    spec = importlib.util.spec_from_file_location("_docs_hooks", ROOT / "docs/_hooks/generated.py")
    if spec is None or importlib.util.find_spec("mkdocs") is None:
        import typer.main

        from adsearch import cli

        return typer.main.get_command(cli.app)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # the same command the CLI reference is generated from
    return mod.cli_command()


def shell_commands(b: Block) -> list[list[str]]:
    """``adsearch`` argument lists (verb first) of the command lines of a shell block."""
    text = re.sub(r"\\\n\s*", " ", b.code)
    out = []
    for raw in text.splitlines():
        line = raw.strip().removeprefix("$ ").strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        if words and words[0] == "adsearch":
            out.append(words[1:])
        elif "adsearch.cli" in words and words[words.index("adsearch.cli") - 1] == "-m":
            out.append(words[words.index("adsearch.cli") + 1 :])
    return out


SHELL_BLOCKS = [b for b in ALL if b.lang in SHELL and not b.skip and shell_commands(b)]


def check_command(cli, args: list[str]) -> None:
    if not args or args[0] in ("--help", "-h"):
        return
    verb, rest = args[0], args[1:]
    cmd = cli.commands.get(verb)
    assert cmd is not None, f"no verb {verb!r} (verbs: {', '.join(sorted(cli.commands))})"
    options = {}
    for p in cmd.params:
        for name in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]:
            if name.startswith("-"):
                options[name] = p
    positional = [p for p in cmd.params if p.param_type_name == "argument"]
    n_pos, i = 0, 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-") and len(word) > 1 and not re.match(r"-\d", word):
            name = word.split("=", 1)[0]
            if name in ("--help", "-h"):
                return
            p = options.get(name)
            assert p is not None, f"{verb}: no option {name!r} (has: {', '.join(sorted(options))})"
            takes_value = not (p.is_flag or p.count) and "=" not in word
            i += 2 if takes_value else 1
        else:
            n_pos += 1
            i += 1
    max_pos = sum(p.nargs if p.nargs > 0 else 10**6 for p in positional)
    assert n_pos <= max_pos, f"{verb}: {n_pos} positional arguments, takes at most {max_pos}"


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: b.where)
def test_shell_commands_exist(block: Block) -> None:
    cli = _cli()
    for args in shell_commands(block):
        try:
            check_command(cli, args)
        except AssertionError as e:
            pytest.fail(f"{block.where}: `adsearch {' '.join(args)}`: {e}")


YAML_BLOCKS = [b for b in ALL if b.lang in ("yaml", "yml") and not b.skip]


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: b.where)
def test_yaml_examples_are_valid_configs(block: Block) -> None:
    """A training (data/model/...) or analysis (input/stats/...) YAML example validates."""
    import dataclasses

    import yaml

    from adsearch.config import from_dict
    from adsearch.pipeline import PipelineConfig, config_from_dict
    from adsearch.train import TrainConfig

    data = yaml.safe_load(block.code)
    keys = set(data)
    if keys <= {f.name for f in dataclasses.fields(TrainConfig)}:
        from_dict(TrainConfig, data, source=block.where)
    elif keys <= {f.name for f in dataclasses.fields(PipelineConfig)}:
        config_from_dict(data)
    else:
        pytest.fail(f"{block.where}: YAML of no known configuration (keys {sorted(keys)})")


def test_examples_found() -> None:
    """The extraction sees the pages' blocks (guards against a silently empty run)."""
    assert any(b.lang in PYTHON | PYCON for b in blocks(ROOT / "README.md"))
    assert len(RUN_PAGES) >= 5 and len(SHELL_BLOCKS) >= 10


def test_skipped_blocks_are_few() -> None:
    skipped = [f"{b.where}: {b.skip}" for b in ALL if b.skip and b.lang in PYTHON | PYCON]
    assert len(skipped) <= MAX_SKIPPED, "\n".join(skipped)


INTERNAL = re.compile(r"seed[ _-]00\d|design\.md|project notes", re.I)


def test_no_references_to_documents_outside_the_repository() -> None:
    """Pages (and the result tables they include) cite public sources, not internal notes."""
    included = re.findall(
        r"<!--\s*include-results:\s*([\w.-]+)",
        "".join(p.read_text(encoding="utf-8") for p in PAGES),
    )
    texts = [*PAGES, *(ROOT / "benchmarks" / "results" / n for n in included)]
    # and what users read besides the site: the code's docstrings, analyses, benchmarks
    texts += [*ROOT.glob("adsearch/**/*.py"), *ROOT.glob("analyses/*"), ROOT / "README.md"]
    texts += [*ROOT.glob("benchmarks/**/*.py"), *ROOT.glob("benchmarks/**/*.md")]
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in texts
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if INTERNAL.search(line)]  # fmt: skip
    assert not hits, "\n".join(hits)


def test_readme_links_resolve() -> None:
    """README links into the repository point at files that exist (mkdocs checks docs/)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert not missing, missing


def test_cli_reference_lists_every_verb() -> None:
    pytest.importorskip("mkdocs", reason="docs tools not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("_docs_hooks", ROOT / "docs/_hooks/generated.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    md = mod.cli_reference_md()
    for verb in mod.cli_command().commands:
        assert f"## `adsearch {verb}`" in md


# ------------------------------------------------------------------ the site


def test_docs_build_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: any warning (broken link, bad docstring) fails."""
    for mod in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"docs tools not installed ({mod}): pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "cli" / "index.html").exists()

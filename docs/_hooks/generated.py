"""MkDocs hook: pages and files generated at build time (nothing here is committed output).

- ``cli.md``: the CLI reference, generated from the ``adsearch`` command itself (the typer app
  turned into its click command with ``typer.main.get_command``), so it cannot drift from the
  code: every verb with its usage line, help text, arguments and options.
- ``benchmarks/results/*.png``: the benchmark plots, which live beside the benchmark results
  in the repository and are linked from ``benchmarks.md``.
- ``<!-- include-results: NAME.md -->`` lines in a page are replaced by the results file
  ``benchmarks/results/NAME.md`` as the benchmark scripts wrote it, headings demoted by three
  levels (the page's own outline stays on top).

The repository root is put first on ``sys.path`` so the build documents this checkout, not
whichever adsearch happens to be installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def _typer_app():
    """The ``adsearch`` typer app (``adsearch.cli.app``; found by type if renamed)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import typer

    from adsearch import cli

    app = getattr(cli, "app", None)
    if not isinstance(app, typer.Typer):
        apps = [v for v in vars(cli).values() if isinstance(v, typer.Typer)]
        if len(apps) != 1:
            raise RuntimeError("adsearch.cli exposes no single typer.Typer app")
        app = apps[0]
    return app


def cli_command():
    """The click command behind the ``adsearch`` console script (also used by tests).

    Typer may bring its own copy of click, so the code below uses duck typing
    (``param_type_name``, ``commands``) rather than ``isinstance`` checks against ``click``.
    """
    import typer.main

    return typer.main.get_command(_typer_app())


def _cell(text: object) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _type_name(p) -> str:
    """A short type name of a parameter (typer's type descriptor, or click's type)."""
    import types
    import typing

    desc = getattr(p, "type_descriptor", None)
    ann = getattr(desc, "annotation", None)
    if ann is None:
        t = getattr(p, "type", None)
        return str(getattr(t, "name", "") or "").lower()

    def name(a) -> str:
        origin, args = typing.get_origin(a), typing.get_args(a)
        if origin in (typing.Union, types.UnionType):
            return " or ".join(name(x) for x in args if x is not type(None))
        if origin in (list, tuple) and args:
            return f"{origin.__name__}[{', '.join(name(x) for x in args if x is not Ellipsis)}]"
        if origin is typing.Annotated:
            return name(args[0])
        plain = getattr(a, "__name__", str(a))
        return {"str": "text", "Path": "path"}.get(plain, plain)

    return name(ann)


def _param_row(p) -> str:
    if p.param_type_name == "argument":
        name = f"`{(p.metavar or p.name).upper()}`"
        kind = f"{_type_name(p)} (argument{'' if p.required else ', optional'})"
        help_ = getattr(p, "help", None) or ""
    else:
        names = sorted(p.opts, key=len) + sorted(p.secondary_opts, key=len)
        name = " / ".join(f"`{n}`" for n in names)
        kind = "flag" if p.is_flag else _type_name(p)
        if p.multiple:
            kind += ", repeatable"
        help_ = p.help or ""
    default = ""
    is_false_flag = getattr(p, "is_flag", False) and p.default is False
    if not p.required and p.default is not None and not callable(p.default) and not is_false_flag:
        default = f"`{p.default}`"
    if p.required:
        default = "required"
    return f"| {_cell(name)} | {_cell(kind)} | {_cell(default)} | {_cell(help_)} |"


def _command_md(cmd, path: list[str], parent) -> list[str]:
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent)
    lines = [f"## `{' '.join(path)}`", ""] if parent is not None else []
    usage = " ".join([*path, *cmd.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]
    if cmd.help:
        lines += [cmd.help.strip(), ""]
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    params = [p for p in params if "--help" not in getattr(p, "opts", [])]
    if params:
        lines += ["| argument / option | type | default | description |", "|---|---|---|---|"]
        lines += [_param_row(p) for p in params]
        lines.append("")
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                lines += _command_md(sub, [*path, name], ctx)
    return lines


def cli_reference_md() -> str:
    """The CLI reference page as Markdown."""
    cmd = cli_command()
    head = [
        "# CLI reference",
        "",
        "Generated from the `adsearch` command itself at every docs build (the same text as",
        "`adsearch VERB --help`). User errors print one line `error: ...` and exit with",
        "status 1; usage errors (unknown option, missing argument) exit with status 2.",
        "",
    ]
    return "\n".join(head + _command_md(cmd, ["adsearch"], None)) + "\n"


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "cli.md", content=cli_reference_md()))
    for png in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        uri = f"benchmarks/results/{png.name}"
        files.append(File.generated(config, uri, abs_src_path=str(png)))
    return files


_INCLUDE = re.compile(r"^<!--\s*include-results:\s*(?P<name>[\w.-]+\.md)\s*-->\s*$", re.M)


def include_results(markdown: str) -> str:
    """Expand the ``include-results`` lines of a page (a missing file is an error)."""

    def expand(m: re.Match) -> str:
        path = ROOT / "benchmarks" / "results" / m["name"]
        if not path.is_file():
            raise FileNotFoundError(f"include-results: no {path.relative_to(ROOT)}")
        text = path.read_text(encoding="utf-8")
        return re.sub(r"^(#+) ", r"###\1 ", text, flags=re.M).rstrip() + "\n"

    return _INCLUDE.sub(expand, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001
    return include_results(markdown)

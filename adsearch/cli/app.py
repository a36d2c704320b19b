"""The Typer application, its command class and the process entry points.

Verb modules register their commands on :data:`app`; :func:`main` runs it and turns user
errors (:class:`adsearch.errors.AdsearchError`) into one line on stderr and exit status 1.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperCommand

from adsearch.errors import AdsearchError

__all__ = [
    "AdsearchCommand",
    "Terminated",
    "app",
    "cli_entry",
    "handle_sigterm",
    "main",
    "register",
    "split_comma_pairs",
]


class Terminated(Exception):
    """Raised in the main thread by :func:`handle_sigterm` when the process gets SIGTERM."""


def _raise_terminated(_signum: int, _frame: Any) -> None:
    raise Terminated


def handle_sigterm() -> None:
    """Turn SIGTERM (``kill PID``, a batch system's time limit) into :class:`Terminated`.

    Python's default SIGTERM action ends the process without unwinding, so the temporary
    file of an output being written (:func:`adsearch.io.atomic.atomic_path`) would be left
    behind; raised as an exception, every ``with`` block cleans up on the way out, and
    :func:`main` exits with status 143 (128 + SIGTERM) and one line ``terminated``.
    """
    signal.signal(signal.SIGTERM, _raise_terminated)


class AdsearchCommand(TyperCommand):
    """A Typer command whose multi-value options also take one comma-separated value.

    ``--range 2800,6000`` and ``--range=2800,6000`` are read as ``--range 2800 6000`` for
    every option of more than one value, so both forms of the help's ``<float,float>`` work.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, split_comma_pairs(args, self._multi_value_options()))

    def _multi_value_options(self) -> dict[str, int]:
        return {
            opt: p.nargs
            for p in self.params
            if p.param_type_name == "option" and p.nargs > 1
            for opt in p.opts
        }


def split_comma_pairs(args: Sequence[str], nargs: dict[str, int]) -> list[str]:
    """Rewrite ``OPT a,b`` and ``OPT=a,b`` into ``OPT a b`` for the options in ``nargs``.

    Only a value with exactly ``nargs[OPT]`` comma-separated parts is split; anything else is
    left for the parser to report. Tokens after ``--`` are untouched.

    Examples
    --------
    >>> split_comma_pairs(["f.npy", "--range", "2800,6000", "--sr=3300,3700"], {"--range": 2,
    ...                    "--sr": 2})
    ['f.npy', '--range', '2800', '6000', '--sr', '3300', '3700']
    >>> split_comma_pairs(["--range", "2800", "6000"], {"--range": 2})
    ['--range', '2800', '6000']
    """
    out: list[str] = []
    it = iter(args)
    for tok in it:
        if tok == "--":
            out.append(tok)
            out.extend(it)
            break
        opt, eq, value = tok.partition("=")
        if opt in nargs and eq and len(value.split(",")) == nargs[opt]:
            out += [opt, *value.split(",")]
            continue
        out.append(tok)
        if tok in nargs:
            following = next(it, None)
            if following is None:
                break
            parts = following.split(",")
            out += parts if len(parts) == nargs[tok] else [following]
    return out


app = typer.Typer(
    name="adsearch",
    help="Model-agnostic anomaly-detection search for heavy resonances in dijet events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def register(*verbs: Callable[..., Any]) -> None:
    """Add ``verbs`` to :data:`app` as commands named after the functions, in this order."""
    for verb in verbs:
        app.command(cls=AdsearchCommand)(verb)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    Parameters
    ----------
    argv
        Command-line words after the program name.

    Returns
    -------
    int
        0 on success, 1 for a user error (one line ``error: ...`` on stderr), 2 for a usage
        error (bad option, missing argument), 130 when interrupted, 143 when terminated
        (SIGTERM, with :func:`handle_sigterm` installed as by the console script).
    """
    try:
        app(args=argv, standalone_mode=False)
    except AdsearchError as e:
        typer.echo(f"error: {e}", err=True)
        return 1
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except Terminated:
        typer.echo("terminated", err=True)
        return 143
    except typer.Exit as e:
        return e.exit_code
    except typer.TyperException as e:  # usage errors: bad option, missing argument
        show = getattr(e, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {e.format_message()}", err=True)
        return e.exit_code
    return 0


def cli_entry() -> None:
    """Console-script entry point (``adsearch = "adsearch.cli:cli_entry"``)."""
    handle_sigterm()
    sys.exit(main())

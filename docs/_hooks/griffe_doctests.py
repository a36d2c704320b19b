"""Griffe extension: numpydoc section headers some docstrings are missing.

Several docstrings end with ``>>>`` lines that are not under an ``Examples`` header (module
summaries, or right after a ``Parameters`` section). Numpydoc parsers then read them as prose
(Markdown quotes and links) or as malformed parameters. This extension inserts the missing
``Examples`` header before the first such block when the doctest lines run to the end of the
docstring, so the API reference shows them as code. Likewise prose paragraphs written after
the entries of a ``Parameters`` section are moved under a ``Notes`` header instead of being
read as parameters named "The" or "as". The source is not changed (the pytest
``--doctest-modules`` run executes the same lines); the places are listed for their owners in
``.notes/docs.md``.
"""

from __future__ import annotations

import re

import griffe

_HEADER = re.compile(r"^\s*Examples?\s*$")


def _with_examples_header(text: str) -> str | None:
    lines = text.splitlines()
    if any(_HEADER.match(line) for line in lines):
        return None
    first = next((i for i, line in enumerate(lines) if line.lstrip().startswith(">>>")), None)
    if first is None or lines[first] != lines[first].lstrip():
        return None  # indented doctests belong to a parameter description: leave them
    tail = lines[first:]
    # only a trailing block (doctest lines, their output, blank lines) is rewritten
    if any(
        line.strip() and not line.startswith((">>>", "...")) and i and not tail[i - 1].strip()
        for i, line in enumerate(tail)
    ):
        return None
    head = lines[:first]
    while head and not head[-1].strip():
        head.pop()
    return "\n".join([*head, "", "Examples", "--------", *tail])


_SECTION = re.compile(r"^\s*(Parameters|Other Parameters|Attributes)\s*$")
_PARAM = re.compile(r"^\*{0,2}[A-Za-z_]\w*(, *\*{0,2}[A-Za-z_]\w*)*( *:.*)?$")


def _with_notes_header(text: str) -> str | None:
    """Prose paragraphs after the entries of a parameter section go under ``Notes``."""
    lines = text.splitlines()
    if any(re.match(r"^\s*Notes\s*$", line) for line in lines):
        return None
    inside = False
    for i, line in enumerate(lines):
        if _SECTION.match(line):
            inside = True
        elif inside and i + 1 < len(lines) and re.match(r"^-{3,}\s*$", lines[i + 1]):
            return None  # the next numpydoc section starts: nothing to move
        elif (
            inside
            and line.strip()
            and line == line.lstrip()
            and not lines[i - 1].strip()
            and not re.match(r"^-{3,}\s*$", line)
            and not _PARAM.match(line)
            and not line.startswith(">>>")
        ):
            return "\n".join([*lines[:i], "Notes", "-----", *lines[i:]])
    return None


class BareDoctests(griffe.Extension):
    """Add the ``Examples`` / ``Notes`` headers numpydoc needs and a docstring is missing."""

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: ARG002
        if obj.docstring is None:
            return
        for fix in (_with_examples_header, _with_notes_header):
            new = fix(obj.docstring.value)
            if new is not None:
                obj.docstring.value = new

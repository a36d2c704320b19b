"""Progress bars for long steps (rich), silent when not on a terminal or when disabled."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar", "track"]

T = TypeVar("T")


def _enabled(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    return sys.stderr.isatty() and not os.environ.get("ADSEARCH_NO_PROGRESS")


def progress_bar(enabled: bool | None = None) -> Progress:
    """A rich ``Progress`` writing to stderr; ``disable``d off-terminal unless forced."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not _enabled(enabled),
        transient=False,
    )


def track(
    items: Iterable[T], total: int | None, description: str, enabled: bool | None = None
) -> Iterator[T]:
    """Iterate ``items`` with a progress bar of ``total`` steps."""
    with progress_bar(enabled) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)

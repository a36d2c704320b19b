"""Scoring options: which event score the search cuts on, and how jets are scored.

>>> ScoreConfig(event_score="max").column
'score_max'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adsearch.errors import ConfigError

__all__ = ["EVENT_SCORE_COLUMNS", "ScoreConfig"]

#: event-score kind -> column of the scores table (:func:`adsearch.score.score_features`)
EVENT_SCORE_COLUMNS = {"mean": "score", "max": "score_max", "min": "score_min"}


@dataclass
class ScoreConfig:
    """Scoring: the event score (``mean``, ``max`` or ``min`` of the two jets' scores), the
    scoring batch size (``None``: the training batch size) and the device."""

    event_score: Literal["mean", "max", "min"] = "mean"
    batch_size: int | None = None
    device: Literal["cpu", "cuda"] = "cpu"

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.event_score not in EVENT_SCORE_COLUMNS:
            raise ConfigError(
                f"score:event_score: {self.event_score!r} is not one of 'mean', 'max', 'min'"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"score:batch_size: must be >= 1, got {self.batch_size}")

    @property
    def column(self) -> str:
        """The column of the scores table holding this event score."""
        return EVENT_SCORE_COLUMNS[self.event_score]

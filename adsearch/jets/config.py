"""Options of the jet-feature extraction (``adsearch features``, the pipeline's ``features``).

One dataclass, one place for each default and for each check (the jet radius is checked here
only; :func:`adsearch.jets.features_from_file` and the dask path validate through it).

Examples
--------
>>> FeaturesConfig(r=0.8).validate()
>>> FeaturesConfig(r=5.0).validate()
Traceback (most recent call last):
...
adsearch.errors.ConfigError: features:r: the jet radius must be in (0, 3], got 5.0
"""

from __future__ import annotations

from dataclasses import dataclass

from adsearch.errors import ConfigError

__all__ = ["FeaturesConfig"]


def _positive_int(value: object) -> bool:
    try:
        return int(value) == value and int(value) >= 1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


@dataclass
class FeaturesConfig:
    """Jet clustering: anti-kT radius, jet pT threshold (GeV), chunking, worker processes.

    Attributes
    ----------
    r : float
        Anti-kT radius, also the N-subjettiness R0 (LHCO: 1.0).
    min_pt : float
        Jet pT threshold in GeV.
    chunk_size : int
        Events per chunk (and per row group of the features file).
    workers : int
        Processes computing chunks in parallel (the output is identical for any number).
    """

    r: float = 1.0
    min_pt: float = 20.0
    chunk_size: int = 50_000
    workers: int = 1

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if not 0 < self.r <= 3.0:  # also NaN
            raise ConfigError(f"features:r: the jet radius must be in (0, 3], got {self.r}")
        if not self.min_pt >= 0:
            raise ConfigError(f"features:min_pt: must be >= 0, got {self.min_pt}")
        for name, what in (("chunk_size", "the chunk size"), ("workers", "workers")):
            if not _positive_int(getattr(self, name)):
                raise ConfigError(
                    f"features:{name}: {what} must be a positive integer, "
                    f"got {getattr(self, name)!r}"
                )

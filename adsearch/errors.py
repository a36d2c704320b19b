"""User-facing errors.

Every problem a user can cause (bad file, bad value, bad config key) is raised as an
:class:`AdsearchError` whose message is one line naming the file or field. The CLI prints
``error: <message>`` and exits with status 1; it never shows a traceback for these.
"""

from __future__ import annotations

__all__ = ["AdsearchError", "ConfigError", "FitError", "InputError", "TrainingError"]


class AdsearchError(Exception):
    """Base class of all errors meant to be shown to the user as one line."""


class InputError(AdsearchError):
    """An input file or array is missing, malformed or holds invalid values."""


class ConfigError(AdsearchError):
    """A configuration file or option has an unknown key or a bad value."""


class FitError(AdsearchError):
    """A statistical fit did not converge or had too little data."""


class TrainingError(AdsearchError):
    """A training failed in a way the user must act on (e.g. a collapsed DeepSVDD)."""

"""Configuration of a generated sample: background + injected signal (``adsearch generate``).

Examples
--------
>>> cfg = GenerateConfig(n_background=100, n_signal=5)
>>> cfg.validate()
>>> cfg.process("signal").process
'wprime-2prong'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adsearch.config import check_sections
from adsearch.errors import ConfigError
from adsearch.generate.processes import ProcessConfig, process_from_dict, process_to_dict
from adsearch.jets.trigger import TriggerConfig

__all__ = ["GenerateConfig"]


@dataclass
class GenerateConfig:
    """A generated sample: background + injected signal (the LHCO recipe).

    ``background`` / ``signal`` name a built-in process (``qcd``, ``wprime-2prong``,
    ``wprime-3prong``) or give a mapping with ``process:`` and its fields (e.g. ``m_x``).
    ``n_signal`` signal events are mixed at random positions into ``n_background`` events.
    ``blackbox`` writes no labels (the truth goes to an answer key read only by the report).
    """

    background: str | dict[str, Any] = "qcd"
    n_background: int = 20000
    signal: str | dict[str, Any] | None = "wprime-2prong"
    n_signal: int = 300
    detector: str = "lhco"
    trigger: TriggerConfig = field(default_factory=TriggerConfig)
    seed: int = 1
    workers: int = 2
    block_size: int = 100
    blackbox: bool = False

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        check_sections(self, "input:generate")
        if self.n_background < 1:
            raise ConfigError(f"input:generate:n_background: must be >= 1, got {self.n_background}")
        if self.n_signal < 0:
            raise ConfigError(f"input:generate:n_signal: must be >= 0, got {self.n_signal}")
        if self.n_signal > 0 and self.signal is None:
            raise ConfigError("input:generate:signal: n_signal > 0 needs a signal process")
        if self.workers < 1 or self.block_size < 1:
            raise ConfigError("input:generate: workers and block_size must be >= 1")
        if self.detector not in ("lhco", "none") and not Path(self.detector).is_file():
            raise ConfigError(
                f"input:generate:detector: {self.detector!r} is neither 'lhco', 'none' nor a "
                "detector card file"
            )
        self.process("background")
        if self.signal is not None:
            self.process("signal")

    def process(self, which: Literal["background", "signal"]) -> ProcessConfig:
        """The validated :mod:`adsearch.generate` process config of ``background``/``signal``."""
        spec = getattr(self, which)
        data = {"process": spec} if isinstance(spec, str) else spec
        proc = process_from_dict(data, source=f"input:generate:{which}")
        if which == "background" and proc.label != 0:
            raise ConfigError(f"input:generate:background: {proc.process!r} is a signal process")
        if which == "signal" and proc.label != 1:
            raise ConfigError(f"input:generate:signal: {proc.process!r} is not a signal process")
        return proc

    def process_dict(self, which: Literal["background", "signal"]) -> dict[str, Any]:
        """All fields of the process (defaults filled in), for the step cache key."""
        return process_to_dict(self.process(which))

"""Build LHCO-like mixed datasets: R&D-like (with labels) and Black-Box-like (key file apart).

``mix`` streams a background file and the first ``n_signal`` events of a signal file (both
LHCO-format HDF5) into one output file. Each signal event lands at a seeded, uniformly
random position; background events and signal events each keep their own file order (the
events of a generated file are independent draws, so this is a full shuffle in
distribution, and it needs memory for one chunk only, whatever the file size).

* R&D-like: 2101 columns, the last being the label (1 = signal, 0 = background).
* Black-Box-like: 2100 columns (no label) and an ASCII key file with one ``0``/``1`` per
  line, event by event (as the LHCO answer keys). The Black-Box file's attributes record no
  signal information.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

import adsearch
from adsearch.errors import ConfigError, InputError
from adsearch.generate.generator import check_output_path
from adsearch.io import LHCOWriter, iter_events, num_events
from adsearch.io.atomic import atomic_path
from adsearch.io.lhco import iter_lhco, lhco_attrs, lhco_shape

__all__ = ["MixSummary", "Resampled", "mix", "read_key", "resample"]


@dataclass
class MixSummary:
    """What :func:`mix` wrote."""

    path: str
    n_events: int
    n_background: int
    n_signal: int
    blackbox: bool
    key_path: str | None = None


class _Stream:
    """Hand out the next ``k`` events of an LHCO file, reading it in chunks."""

    def __init__(self, path: Path, stop: int, chunk_size: int) -> None:

        self.path = path
        self._it = iter_lhco(path, 0, stop, chunk_size)
        self._buf: ak.Array | None = None
        self._labels: np.ndarray | None = None

    def take(self, k: int) -> tuple[ak.Array, np.ndarray | None]:
        parts, labs = [], []
        while k > 0:
            if self._buf is None or len(self._buf) == 0:
                try:
                    ev = next(self._it)
                except StopIteration:
                    raise InputError(f"{self.path}: ended early (file changed?)") from None
                self._buf = ev.particles[["pt", "eta", "phi"]]
                self._labels = ev.labels
            n = min(k, len(self._buf))
            parts.append(self._buf[:n])
            self._buf = self._buf[n:]
            if self._labels is not None:
                labs.append(self._labels[:n])
                self._labels = self._labels[n:]
            k -= n
        if not parts:
            return ak.Array([]), None
        particles = parts[0] if len(parts) == 1 else ak.concatenate(parts)
        return particles, (np.concatenate(labs) if labs else None)


def _check_labels(labels: np.ndarray | None, expected: int, path: Path, role: str) -> None:
    if labels is not None and (labels != expected).any():
        i = int(np.flatnonzero(labels != expected)[0])
        raise InputError(
            f"{path}: event {i} is labelled {int(labels[i])}, but the {role} file must hold "
            f"only label {expected} events"
        )


def _detector_of(attrs: dict[str, Any]) -> Any:
    det = attrs.get("detector")
    if isinstance(det, dict):  # a card: compare by name and content
        return tuple(sorted((k, repr(v)) for k, v in det.items()))
    return det


def _check_mix_options(
    n_signal: int, seed: int, chunk_size: int, blackbox: bool, key: object
) -> None:
    if isinstance(n_signal, bool) or not isinstance(n_signal, int | np.integer) or n_signal < 0:
        raise ConfigError(f"n_signal must be an integer >= 0, got {n_signal!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be positive, got {chunk_size}")
    if blackbox and key is None:
        raise ConfigError("blackbox mixing needs a key file for the answer key")
    if not blackbox and key is not None:
        raise ConfigError("a key file is written only for blackbox mixing")


def mix(
    background: str | os.PathLike[str],
    signal: str | os.PathLike[str],
    n_signal: int,
    out: str | os.PathLike[str],
    seed: int,
    *,
    blackbox: bool = False,
    key: str | os.PathLike[str] | None = None,
    n_background: int | None = None,
    chunk_size: int = 50_000,
) -> MixSummary:
    """Mix all (or ``n_background``) background events with ``n_signal`` signal events.

    Parameters
    ----------
    background, signal : path
        LHCO-format HDF5 files (e.g. from ``adsearch generate``). Label columns, if present,
        must say 0 (background) and 1 (signal) respectively. If both files record the
        detector they were made with, it must be the same.
    n_signal : int
        Signal events to inject (the first ``n_signal`` of ``signal``); 0 is allowed.
    out : path
        Output LHCO file (written atomically).
    seed : int
        Seed of the positions of the signal events.
    blackbox : bool
        Write no label column; the truth goes to ``key`` instead.
    key : path
        ASCII answer key for ``blackbox`` (one ``0``/``1`` per line, in event order).
    n_background : int, optional
        Use only the first ``n_background`` background events.
    chunk_size : int
        Events read and written per step (memory ~10 kB per event).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io.events import make_particles
    >>> from adsearch.io.lhco import write_lhco, read_lhco
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_lhco(d / "b.h5", make_particles([[1.0]] * 5, [[0.0]] * 5, [[0.0]] * 5))
    >>> _ = write_lhco(d / "s.h5", make_particles([[9.0]] * 3, [[0.0]] * 3, [[0.0]] * 3))
    >>> s = mix(d / "b.h5", d / "s.h5", 2, d / "rd.h5", seed=1)
    >>> ev = read_lhco(d / "rd.h5")
    >>> (s.n_events, int(ev.labels.sum()), ak.flatten(ev.particles.pt[ev.labels == 1]).tolist())
    (7, 2, [9.0, 9.0])
    """
    bkg, sig, out = Path(background), Path(signal), Path(out)
    _check_mix_options(n_signal, seed, chunk_size, blackbox, key)
    check_output_path(out)
    if key is not None:
        check_output_path(key)
    inputs = {bkg.resolve(), sig.resolve()}
    if out.resolve() in inputs:
        raise ConfigError(f"{out}: output would overwrite an input file")
    if key is not None and Path(key).resolve() in inputs | {out.resolve()}:
        raise ConfigError(f"{key}: key file would overwrite the input or output file")

    nb_avail = lhco_shape(bkg)[0]
    ns_avail = lhco_shape(sig)[0]
    nb = nb_avail if n_background is None else int(n_background)
    if not 0 < nb <= nb_avail:
        raise InputError(f"{bkg}: has {nb_avail} events, {nb} background events requested")
    if n_signal > ns_avail:
        raise InputError(f"{sig}: has only {ns_avail} events, {n_signal} signal events requested")
    bkg_attrs, sig_attrs = lhco_attrs(bkg), lhco_attrs(sig)
    db, ds = _detector_of(bkg_attrs), _detector_of(sig_attrs)
    if db is not None and ds is not None and db != ds:
        raise InputError(
            f"{sig}: made with a different detector response than {bkg} "
            "(mixing truth-level and detector-level events, or two cards)"
        )

    n = nb + int(n_signal)
    rng = np.random.default_rng(seed)
    is_signal = np.zeros(n, dtype=bool)
    is_signal[rng.choice(n, size=int(n_signal), replace=False)] = True

    if blackbox:
        attrs: dict[str, Any] = {"adsearch_version": adsearch.__version__, "n_events": n}
    else:
        attrs = {
            "adsearch_version": adsearch.__version__,
            "mix": {
                "background": str(bkg),
                "signal": str(sig),
                "n_background": nb,
                "n_signal": int(n_signal),
                "seed": int(seed),
            },
            "background_attrs": bkg_attrs,
            "signal_attrs": sig_attrs,
        }
    bstream = _Stream(bkg, nb, chunk_size)
    sstream = _Stream(sig, int(n_signal), chunk_size) if n_signal else None
    key_ctx = atomic_path(key) if key is not None else None
    key_tmp = key_ctx.__enter__() if key_ctx is not None else None
    try:
        with LHCOWriter(out, with_label=not blackbox, attrs=attrs) as writer:
            for o0 in range(0, n, chunk_size):
                lab = is_signal[o0 : o0 + chunk_size]
                n_s = int(lab.sum())
                pb, lb = bstream.take(len(lab) - n_s)
                _check_labels(lb, 0, bkg, "background")
                parts = [pb]
                if n_s:
                    assert sstream is not None
                    ps, ls = sstream.take(n_s)
                    _check_labels(ls, 1, sig, "signal")
                    parts.append(ps)
                both = ak.concatenate(parts) if len(parts) > 1 else pb
                order = np.empty(len(lab), dtype=np.int64)
                order[~lab] = np.arange(len(lab) - n_s)
                order[lab] = len(lab) - n_s + np.arange(n_s)
                writer.append(both[order], None if blackbox else lab.astype(np.int8))
        if key_tmp is not None:
            key_tmp.write_text("".join("1\n" if s else "0\n" for s in is_signal.tolist()))
    except BaseException as e:
        if key_ctx is not None:
            key_ctx.__exit__(type(e), e, e.__traceback__)
        raise
    if key_ctx is not None:
        key_ctx.__exit__(None, None, None)
    return MixSummary(str(out), n, nb, int(n_signal), blackbox, None if key is None else str(key))


def read_key(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an answer key (one 0/1 per line, also ``0.0``/``1.0``) as an int8 array."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such key file")
    lines = [s.strip() for s in p.read_text().splitlines() if s.strip()]
    try:
        values = np.array([float(s) for s in lines])
    except ValueError:
        raise InputError(f"{p}: key lines must be 0 or 1") from None
    if not np.isin(values, (0.0, 1.0)).all():
        raise InputError(f"{p}: key lines must be 0 or 1")
    return values.astype(np.int8)


@dataclass
class Resampled:
    """What :func:`resample` wrote: the event file, its size and the injected signal count."""

    path: Path
    n_events: int
    n_signal_injected: int | None


def _keep_first_signal(
    src: Path, out: Path, labelled: bool, stop: int | None, keep_signal: int | None, **read_kw: Any
) -> None:
    """Copy the first ``stop`` events of ``src``, keeping at most ``keep_signal`` signal events."""

    kept_sig = 0
    with LHCOWriter(out, with_label=labelled) as w:
        for ev in iter_events(src, 0, stop, chunk_size=50_000, **read_kw):
            if ev.labels is None:
                w.append(ev.particles)
                continue
            lab = np.asarray(ev.labels)
            keep = np.ones(len(lab), dtype=bool)
            if keep_signal is not None:
                sig = np.flatnonzero(lab == 1)
                room = max(keep_signal - kept_sig, 0)
                keep[sig[room:]] = False
                kept_sig += min(room, len(sig))
            w.append(ev.particles[keep], lab[keep])


def resample(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    labelled: bool,
    stop: int | None = None,
    keep_signal: int | None = None,
    inject: str | os.PathLike[str] | None = None,
    n_inject: int = 0,
    seed: int = 1,
    **read_kw: Any,
) -> Resampled:
    """A sample made from an event file: the first ``stop`` events, at most ``keep_signal``
    signal events among them, and ``n_inject`` events of the signal file ``inject`` mixed in.

    Reduces e.g. the LHCO R&D file's 100k signal events to the standard ~1000, or injects a
    chosen number of signal events into its background (``keep_signal=0``). ``read_kw``
    (``tree``, ``branches``) go to :func:`adsearch.io.iter_events` for ROOT input.

    Raises
    ------
    ConfigError
        ``keep_signal`` for a file without labels, or ``inject`` into a file that has signal
        events left (``keep_signal`` not 0).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from adsearch.io.events import make_particles
    >>> from adsearch.io.lhco import write_lhco
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_lhco(d / "rd.h5", make_particles([[1.0]] * 6, [[0.0]] * 6, [[0.0]] * 6),
    ...                labels=[0, 1, 0, 1, 1, 0])
    >>> r = resample(d / "rd.h5", d / "out.h5", labelled=True, keep_signal=1)
    >>> r.n_events, r.n_signal_injected
    (4, None)
    """

    src, target = Path(src), Path(out)
    if keep_signal is not None and not labelled:
        raise ConfigError(f"input:keep_signal: {src} has no labels to select signal with")
    if inject is not None and labelled and keep_signal != 0:
        raise ConfigError(
            "input:inject: the input file has signal events; set input.keep_signal: 0 to "
            "inject into its background only"
        )
    filtered = target.with_name("filtered.h5") if inject is not None else target
    _keep_first_signal(src, filtered, labelled, stop, keep_signal, **read_kw)
    if inject is None:
        return Resampled(target, num_events(target), None)
    s = mix(filtered, inject, n_inject, target, seed=seed)
    filtered.unlink()
    return Resampled(target, s.n_events, s.n_signal)

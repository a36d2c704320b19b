"""Reproducible, parallel event generation: Pythia -> (detector) -> trigger -> LHCO HDF5.

How reproducibility and parallelism fit together
------------------------------------------------
Events are generated in fixed-size *blocks* of ``block_size`` Pythia events. Block ``k`` has
its own Pythia and detector seeds derived from ``(seed, k)`` (:func:`_block_seeds`, with
:class:`numpy.random.SeedSequence`), so its content depends on nothing else: every worker
initialises Pythia once with the same init seed (derived from ``seed``; the init samples the
cross-section maxima), then re-seeds Pythia's random generator at the start of each block
(``pythia.rndm.init``, no re-initialisation). Workers pick blocks in any order; the parent
takes results in block order and keeps the first ``n_events`` triggered events. Hence the
same ``seed`` (and ``block_size``) gives the same events whatever the number of workers,
and a run of ``n`` events is a prefix of a run of ``m > n`` events.

Workers are separate processes (``spawn``), started once per run and fed blocks until
enough events are collected; at most two blocks per worker are in flight, so little work
is wasted at the end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

import adsearch
from adsearch.detector import (
    DetectorCard,
    apply_detector,
    card_to_json,
    load_card,
    write_truth,
)
from adsearch.errors import AdsearchError, ConfigError, InputError
from adsearch.generate.processes import (
    PYTHIA_MAX_SEED,
    ProcessConfig,
    get_process,
    process_to_dict,
)
from adsearch.generate.truth import ChargeTable, make_pythia, truth_particles
from adsearch.io.events import Events
from adsearch.io.lhco import LHCOWriter, write_lhco
from adsearch.jets.trigger import TriggerConfig, passes_trigger
from adsearch.parallel import spawn_pool
from adsearch.progress import progress_bar

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "GenerationSummary",
    "generate",
    "generate_to_file",
    "generate_truth_to_files",
    "generate_with_summary",
    "resolve_detector",
]

#: Pythia events per block (part of the reproducibility contract together with the seed).
DEFAULT_BLOCK_SIZE = 100


# ------------------------------------------------------------------------------- set-up


def resolve_detector(detector: Any) -> Any:
    """``"none"``/``None`` -> ``None`` (truth level); ``"lhco"`` or a card YAML path -> card.

    A :class:`adsearch.detector.DetectorCard` is passed through.
    """
    if detector is None or (isinstance(detector, str) and detector.lower() == "none"):
        return None
    if isinstance(detector, DetectorCard):
        return detector
    if isinstance(detector, str | Path):
        return load_card(str(detector))
    raise ConfigError(f"detector: expected 'none', 'lhco' or a card path, got {detector!r}")


def _as_process(process: str | ProcessConfig) -> ProcessConfig:
    if isinstance(process, str):
        return get_process(process)
    if hasattr(process, "pythia_settings"):
        process.validate()
        return process
    raise ConfigError(f"process: expected a name or a process config, got {process!r}")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _seed_words(seed: int, key: tuple[int, ...], n: int) -> list[int]:
    ss = np.random.SeedSequence(seed, spawn_key=key)
    return [int(w) for w in ss.generate_state(n, dtype=np.uint32)]


def _init_seed(seed: int) -> int:
    return _seed_words(seed, (0,), 1)[0] % PYTHIA_MAX_SEED + 1


def _block_seeds(seed: int, block: int) -> tuple[int, int]:
    """(Pythia seed in 1..900_000_000, 64-bit detector seed) of one block.

    Pythia seeds of consecutive blocks are consecutive (from an offset derived from
    ``seed``): each of Pythia's 900 M seeds starts its own independent random sequence, so
    the blocks of one run never share one (hashing each block to a seed would, by the
    birthday paradox, repeat a block of events with odds ~30 % in a 1M-event QCD run).
    """
    offset = _seed_words(seed, (1,), 1)[0]
    pythia_seed = (offset + block) % PYTHIA_MAX_SEED + 1
    hi, lo = _seed_words(seed, (2, block), 2)
    return pythia_seed, (hi << 32) | lo


# ----------------------------------------------------------------------- block running


@dataclass(frozen=True)
class _Job:
    settings: tuple[str, ...]
    seed: int
    block_size: int
    card: Any
    trigger: TriggerConfig


@dataclass
class _BlockResult:
    block: int
    n_generated: int
    passed: np.ndarray  # index within the block of each kept event
    particles: ak.Array  # kept events
    stage_seconds: dict[str, float]  # wall time per stage: pythia, truth, detector, trigger
    stage_cpu_seconds: dict[str, float]  # CPU time of this thread per stage


class _BlockRunner:
    """One initialised Pythia that can produce any block of a job."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.pythia = make_pythia(job.settings, _init_seed(job.seed))
        self.charges = ChargeTable(self.pythia.particleData)

    def run(self, block: int) -> _BlockResult:
        job = self.job
        clock = [(time.perf_counter(), time.thread_time())]
        stages: dict[str, float] = {}
        cpu: dict[str, float] = {}

        def lap(stage: str) -> None:
            clock.append((time.perf_counter(), time.thread_time()))
            stages[stage] = clock[-1][0] - clock[-2][0]
            cpu[stage] = clock[-1][1] - clock[-2][1]

        pythia_seed, detector_seed = _block_seeds(job.seed, block)
        self.pythia.rndm.init(pythia_seed)
        batch = self.pythia.nextBatch(job.block_size)
        lap("pythia")
        particles = truth_particles(batch, self.charges)
        lap("truth")
        if job.card is not None:
            particles = apply_detector(particles, job.card, seed=detector_seed)
        lap("detector")
        mask = passes_trigger(particles, job.trigger)
        passed = np.flatnonzero(mask)
        kept = particles[mask]
        lap("trigger")
        return _BlockResult(block, len(particles), passed, kept, stages, cpu)


_RUNNER: _BlockRunner | None = None
_RUNNER_ERROR: BaseException | None = None


def _worker_init(job: _Job) -> None:
    # one runner per worker process (set by the pool initializer), not shared state
    global _RUNNER, _RUNNER_ERROR  # noqa: PLW0603
    try:
        _RUNNER = _BlockRunner(job)
    except BaseException as e:  # re-raised by _worker_run, so the parent sees the cause
        _RUNNER_ERROR = e


def _worker_run(block: int) -> _BlockResult:
    if _RUNNER is None:
        raise _RUNNER_ERROR or RuntimeError("generation worker not initialised")
    return _RUNNER.run(block)


def _iter_blocks(
    job: _Job, workers: int, estimate: _Estimate, first_block: int = 0
) -> Generator[_BlockResult, None, None]:
    """Results of blocks ``first_block``, ``first_block + 1``, ... in order (until the
    consumer stops). A block's content depends only on ``(job, block)``, so a run may start
    at any block (resumable sharded generation does)."""
    if workers == 1:
        runner = _BlockRunner(job)
        block = first_block
        while True:
            yield runner.run(block)
            block += 1
    yield from _iter_blocks_pool(job, workers, estimate, first_block)


def _iter_blocks_pool(
    job: _Job, workers: int, estimate: _Estimate, first_block: int = 0
) -> Generator[_BlockResult, None, None]:
    with spawn_pool(workers, initializer=_worker_init, initargs=(job,)) as pool:
        pending: dict[int, Future[_BlockResult]] = {}
        next_block = first_block
        block = first_block
        try:
            while True:
                try:
                    while len(pending) < 2 * workers and (
                        len(pending) < workers or estimate.need_more(len(pending))
                    ):
                        pending[next_block] = pool.submit(_worker_run, next_block)
                        next_block += 1
                    result = pending.pop(block).result()
                except BrokenProcessPool:
                    raise AdsearchError(
                        "a generation worker process died (out of memory? or a script "
                        "calling generate(workers > 1) without an "
                        "`if __name__ == '__main__':` guard)"
                    ) from None
                yield result
                block += 1
        finally:
            for f in pending.values():
                f.cancel()


@dataclass
class _Estimate:
    """Running trigger efficiency, to submit only about as many blocks as still needed."""

    n_events: int
    block_size: int
    kept: int = 0
    generated: int = 0

    def need_more(self, in_flight: int) -> bool:
        eff = self.kept / self.generated if self.generated else 0.5
        expected = in_flight * self.block_size * max(eff, 1e-3)
        return expected < self.n_events - self.kept


# --------------------------------------------------------------------------- public API


@dataclass
class GenerationSummary:
    """What a generation run produced (deterministic fields first, timing last).

    ``n_generated`` counts the Pythia events up to and including the last kept one, so
    ``trigger_efficiency = n_events / n_generated``.
    """

    process: str
    n_events: int
    n_generated: int
    seed: int
    block_size: int
    n_blocks: int
    workers: int
    seconds: float
    path: str = ""
    n_truncated: int = 0
    #: The truth file written by :func:`generate_truth_to_files` ("" otherwise).
    truth_path: str = ""
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Pythia events in the blocks used (>= n_generated: the last block may be cut short).
    n_pythia_events: int = 0
    #: Worker wall time per stage (pythia, truth, detector, trigger), summed over the blocks.
    stage_seconds: dict[str, float] = field(default_factory=dict, repr=False)
    #: The same in CPU time of the worker threads (robust on a busy machine).
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def per_worker_rate(self) -> float:
        """Pythia events per second of worker busy time (start-up and waiting excluded)."""
        busy = sum(self.stage_seconds.values())
        return self.n_pythia_events / busy if busy > 0 else float("nan")

    @property
    def per_worker_cpu_rate(self) -> float:
        """Pythia events per CPU second of the workers (start-up excluded)."""
        busy = sum(self.stage_cpu_seconds.values())
        return self.n_pythia_events / busy if busy > 0 else float("nan")

    @property
    def trigger_efficiency(self) -> float:
        return self.n_events / self.n_generated if self.n_generated else float("nan")

    @property
    def events_per_second(self) -> float:
        """Kept (triggered) events per wall-clock second."""
        return self.n_events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def generated_per_second(self) -> float:
        """Pythia events per wall-clock second (all workers)."""
        return self.n_generated / self.seconds if self.seconds > 0 else float("nan")


def _prepare(
    process: str | ProcessConfig,
    n_events: int,
    seed: int,
    workers: int,
    detector: Any,
    trigger: TriggerConfig | None,
    block_size: int,
) -> tuple[ProcessConfig, _Job, int]:
    cfg = _as_process(process)
    n_events = _check_int(n_events, "n_events", 1)
    seed = _check_int(seed, "seed", 0)
    workers = _check_int(workers, "workers", 1)
    block_size = _check_int(block_size, "block_size", 1)
    trigger = TriggerConfig() if trigger is None else trigger
    trigger.validate()
    card = resolve_detector(detector)
    settings = tuple(cfg.pythia_settings())
    make_pythia(settings, 1, init=False)  # refuse unknown settings before starting workers
    return cfg, _Job(settings, seed, block_size, card, trigger), n_events


@dataclass
class _Tally:
    generated: int = 0  # up to the last kept event
    blocks: int = 0
    pythia_events: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)


def _run(
    cfg: ProcessConfig,
    job: _Job,
    n_events: int,
    workers: int,
    max_generated: int | None,
    progress: bool | None,
    tally: _Tally,
) -> Iterator[ak.Array]:
    """Yield the kept particles block by block, in block order; counts go to ``tally``."""

    est = _Estimate(n_events, job.block_size)
    limit = max_generated if max_generated is not None else 1000 * n_events + 10 * job.block_size
    t0 = time.perf_counter()
    with progress_bar(progress) as bar:
        task = bar.add_task(f"generate {cfg.process}", total=n_events)
        blocks = _iter_blocks(job, workers, est)
        try:
            for res in blocks:
                take = min(len(res.passed), n_events - est.kept)
                if take < len(res.passed):  # last block: stop at the n-th kept event
                    generated = est.generated + int(res.passed[take - 1]) + 1
                    particles = res.particles[:take]
                else:
                    generated = est.generated + res.n_generated
                    particles = res.particles
                est.kept += take
                est.generated = generated
                tally.generated, tally.blocks = generated, res.block + 1
                tally.pythia_events += res.n_generated
                for k, v in res.stage_seconds.items():
                    tally.stage_seconds[k] = tally.stage_seconds.get(k, 0.0) + v
                for k, v in res.stage_cpu_seconds.items():
                    tally.stage_cpu_seconds[k] = tally.stage_cpu_seconds.get(k, 0.0) + v
                dt = time.perf_counter() - t0
                bar.update(
                    task,
                    advance=take,
                    description=f"generate {cfg.process} "
                    f"({est.kept / dt:.0f} ev/s, {generated / dt:.0f} Pythia ev/s)",
                )
                yield particles
                if est.kept >= n_events:
                    return
                if generated >= limit:
                    raise AdsearchError(
                        f"only {est.kept} of {n_events} events passed the trigger in "
                        f"{generated} generated (efficiency too low for this process and "
                        "trigger; lower the trigger threshold or raise max_generated)"
                    )
        finally:
            blocks.close()


def _attrs(cfg: ProcessConfig, job: _Job, n_events: int, n_generated: int) -> dict[str, Any]:
    card = "none" if job.card is None else card_to_json(job.card)
    from dataclasses import asdict

    return {
        "generator": "adsearch.generate (Pythia 8 via pythia8mc)",
        "adsearch_version": adsearch.__version__,
        "pythia_version": _pythia_version(),
        "process": process_to_dict(cfg),
        "pythia_settings": list(job.settings),
        "detector": card,
        "trigger": asdict(job.trigger),
        "seed": job.seed,
        "block_size": job.block_size,
        "n_events": n_events,
        "n_generated": n_generated,
        "trigger_efficiency": n_events / n_generated,
    }


def _pythia_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythia8mc")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def generate(
    process: str | ProcessConfig,
    n_events: int,
    seed: int,
    workers: int = 1,
    detector: Any = "lhco",
    trigger: TriggerConfig | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_generated: int | None = None,
    progress: bool | None = None,
) -> Events:
    """Generate ``n_events`` triggered events of ``process`` in memory.

    Parameters
    ----------
    process : str or ProcessConfig
        ``"qcd"``, ``"wprime-2prong"``, ``"wprime-3prong"`` or a config from
        :mod:`adsearch.generate.processes`.
    n_events : int
        Events to keep (after the trigger).
    seed : int
        Master seed (>= 0). Same seed and ``block_size`` -> identical events for any
        ``workers``.
    workers : int
        Worker processes (1 = in this process).
    detector : str or DetectorCard or None
        ``"none"`` (truth level: visible final-state particles with ``pid`` and ``charge``),
        ``"lhco"`` (built-in Delphes-CMS-like card) or a card YAML path.
    trigger : TriggerConfig, optional
        Default: LHCO trigger (one anti-kT R=1.0 jet, |eta| < 2.5, pT > 1.2 TeV).
    block_size : int
        Pythia events per seeded block.
    max_generated : int, optional
        Give up (AdsearchError) after this many Pythia events (default ``1000 n + 10
        block_size``), e.g. when the trigger can hardly be passed.
    progress : bool, optional
        Force the progress bar on/off (default: on when stderr is a terminal).

    Returns
    -------
    adsearch.io.events.Events
        ``particles`` (``events * var * {pt, eta, phi, mass[, pid, charge]}``), ``labels``
        (1 for signal processes, 0 for QCD) and ``source`` (``"generate:<process>"``).
    """
    events, _ = generate_with_summary(
        process,
        n_events,
        seed,
        workers,
        detector,
        trigger,
        block_size=block_size,
        max_generated=max_generated,
        progress=progress,
    )
    return events


def generate_with_summary(
    process: str | ProcessConfig,
    n_events: int,
    seed: int,
    workers: int = 1,
    detector: Any = "lhco",
    trigger: TriggerConfig | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_generated: int | None = None,
    progress: bool | None = None,
) -> tuple[Events, GenerationSummary]:
    """:func:`generate`, also returning the :class:`GenerationSummary` (counts, timing)."""

    cfg, job, n_events = _prepare(process, n_events, seed, workers, detector, trigger, block_size)
    t0 = time.perf_counter()
    tally = _Tally()
    chunks = list(_run(cfg, job, n_events, workers, max_generated, progress, tally))
    particles = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    labels = np.full(len(particles), cfg.label, dtype=np.int8)
    summary = _summary(cfg, job, n_events, workers, tally, time.perf_counter() - t0)
    summary.attrs = _attrs(cfg, job, n_events, tally.generated)
    return Events(particles, labels, f"generate:{cfg.process}"), summary


def _summary(
    cfg: ProcessConfig, job: _Job, n_events: int, workers: int, tally: _Tally, seconds: float
) -> GenerationSummary:
    return GenerationSummary(
        process=cfg.process,
        n_events=n_events,
        n_generated=tally.generated,
        seed=job.seed,
        block_size=job.block_size,
        n_blocks=tally.blocks,
        workers=workers,
        seconds=seconds,
        n_pythia_events=tally.pythia_events,
        stage_seconds=dict(tally.stage_seconds),
        stage_cpu_seconds=dict(tally.stage_cpu_seconds),
    )


def generate_to_file(
    path: str | Path,
    process: str | ProcessConfig,
    n_events: int,
    seed: int,
    workers: int = 1,
    detector: Any = "lhco",
    trigger: TriggerConfig | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_generated: int | None = None,
    progress: bool | None = None,
) -> GenerationSummary:
    """Generate events (see :func:`generate`) straight into an LHCO-format HDF5 file.

    Events are streamed to the file block by block (memory stays bounded). The file has a
    label column (1 for signal processes, 0 for QCD) and records the process, Pythia
    settings, detector card (JSON), trigger, seed, block size and event counts as attributes
    of the ``df`` group (read them with :func:`adsearch.io.lhco.lhco_attrs`). Events with more
    than 700 particles (truth-level QCD: ~1/4 of the events) keep their 700 highest-pT ones,
    the layout's limit; ``n_truncated`` counts them. The file appears only when complete.
    """
    cfg, job, n_events = _prepare(process, n_events, seed, workers, detector, trigger, block_size)
    check_output_path(path)
    t0 = time.perf_counter()
    tally = _Tally()
    chunks = _run(cfg, job, n_events, workers, max_generated, progress, tally)

    def attrs_of(n_truncated: int) -> dict[str, Any]:
        return {**_attrs(cfg, job, n_events, tally.generated), "n_truncated": n_truncated}

    attrs = write_generated(path, cfg.label, chunks, attrs_of)
    summary = _summary(cfg, job, n_events, workers, tally, time.perf_counter() - t0)
    summary.path, summary.n_truncated, summary.attrs = str(path), attrs["n_truncated"], attrs
    return summary


def generate_truth_to_files(
    path: str | os.PathLike[str],
    truth_path: str | os.PathLike[str],
    process: str | ProcessConfig,
    n_events: int,
    seed: int,
    workers: int = 1,
    trigger: TriggerConfig | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_generated: int | None = None,
    progress: bool | None = None,
) -> GenerationSummary:
    """Generate truth-level events and write them both as LHCO HDF5 and as a truth file.

    The truth file (:func:`adsearch.detector.write_truth`) keeps every visible final-state
    particle with its ``pid`` and ``charge``, so the detector response can be applied later
    (:func:`adsearch.detector.simulate_file`, ``adsearch simulate``); the LHCO file at
    ``path`` holds the same events in the LHCO layout (massless objects, at most 700 per
    event, highest pT kept). Both output paths are checked before any event is generated;
    the events are held in memory (use :func:`generate_to_file` for large detector-level
    samples). Both files carry the attributes ``process`` (JSON), ``seed`` and
    ``detector = "none"``.

    Parameters
    ----------
    path : str or os.PathLike
        Output LHCO-format HDF5 file (with a label column).
    truth_path : str or os.PathLike
        Output truth file.
    process, n_events, seed, workers, trigger, block_size, max_generated, progress
        As for :func:`generate` (the detector is ``"none"``).

    Returns
    -------
    GenerationSummary
        Counts and timing; ``path``, ``truth_path``, ``n_truncated`` (events cut to 700
        particles in the LHCO file) and ``attrs`` (the attributes written) are set.

    Raises
    ------
    adsearch.errors.ConfigError
        An output path is a directory or not writable, or an argument is invalid.
    """
    cfg = _as_process(process)
    check_output_path(path)
    check_output_path(truth_path)
    ev, summary = generate_with_summary(
        cfg,
        n_events,
        seed,
        workers=workers,
        detector="none",
        trigger=trigger,
        block_size=block_size,
        max_generated=max_generated,
        progress=progress,
    )
    attrs = {"process": json.dumps(process_to_dict(cfg)), "seed": seed, "detector": "none"}
    write_truth(truth_path, ev.particles, ev.labels, attrs=attrs)
    massless = ak.zip({k: ev.particles[k] for k in ("pt", "eta", "phi")})  # as LHCO stores
    summary.n_truncated = write_lhco(path, massless, ev.labels, attrs=attrs)
    summary.path, summary.truth_path, summary.attrs = str(path), str(truth_path), attrs
    return summary


def write_generated(
    path: str | Path,
    label: int,
    chunks: Iterable[ak.Array],
    attrs_of: Callable[[int], dict[str, Any]],
) -> dict[str, Any]:
    """Stream chunks of events into a new LHCO file at ``path`` (atomically), as generated
    files are written: massless ``pt, eta, phi`` objects, one ``label`` for every event, and
    the attributes ``attrs_of(n_truncated)`` (computed after the last chunk, when the counts
    are known) on the ``df`` group. Returns those attributes.

    Shared by :func:`generate_to_file` and :mod:`adsearch.generate.shards`, so one-file runs,
    shards and merged shards have the same layout and attributes.
    """
    try:
        with LHCOWriter(path, with_label=True) as writer:  # atomic: appears when complete
            for particles in chunks:
                out = ak.zip({k: particles[k] for k in ("pt", "eta", "phi")})  # massless
                writer.append(out, np.full(len(out), label, dtype=np.int8))
            attrs = attrs_of(writer.n_truncated)
            writer.set_attrs(attrs)  # counts are known only now; the file is not in place yet
    except OSError as e:  # permissions, full disk: one line, no traceback
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    return attrs


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Refuse (ConfigError) an output path that is a directory or in an unwritable place.

    Checked before any event is generated, so a typo does not cost a whole run.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a directory (give an output file name)")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{p}: cannot write in {parent}")

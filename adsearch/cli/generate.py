"""Generation verbs: ``generate`` (Pythia 8), ``mix`` (signal injection) and ``simulate``
(detector response), from :mod:`adsearch.generate` and :mod:`adsearch.detector`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["generate", "mix", "simulate"]


def generate(
    process: Annotated[
        str | None,
        typer.Argument(
            help="qcd, wprime-2prong or wprime-3prong (optional with --config)",
            show_default=False,
        ),
    ] = None,
    n_events: Annotated[
        int, typer.Option("-n", "--n-events", help="Triggered events to write")
    ] = 1000,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Output LHCO HDF5 file (default events.h5); with --shard-dir: the merged "
            "file, written once every shard is done; with --merge: required",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Master seed (same seed -> same file)")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    detector: Annotated[
        str, typer.Option(help="Detector response: lhco (built-in card), none, or a card YAML")
    ] = "lhco",
    config: Annotated[
        Path | None, typer.Option(help="Process YAML (process: NAME plus its fields)")
    ] = None,
    pthatmin: Annotated[
        float | None, typer.Option(help="qcd: PhaseSpace:pTHatMin in GeV [default: 1000]")
    ] = None,
    m_wprime: Annotated[float | None, typer.Option(help="W' mass in GeV [default: 3500]")] = None,
    m_x: Annotated[float | None, typer.Option(help="X mass in GeV [default: 500]")] = None,
    m_y: Annotated[float | None, typer.Option(help="Y mass in GeV [default: 100]")] = None,
    wprime_mass_min: Annotated[
        float | None,
        typer.Option(help="W' lower mass cut (34:mMin) in GeV [default: Pythia's, 10]"),
    ] = None,
    mpi: Annotated[
        bool | None,
        typer.Option("--mpi/--no-mpi", help="Multiparton interactions [default: off, as LHCO]"),
    ] = None,
    trigger_pt: Annotated[float, typer.Option(help="Trigger jet pT threshold in GeV")] = 1200.0,
    trigger_eta: Annotated[float, typer.Option(help="Trigger jet |eta| acceptance")] = 2.5,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Keep all events (no jet trigger)")
    ] = False,
    block_size: Annotated[
        int, typer.Option(help="Pythia events per seeded block (part of the seed contract)")
    ] = 100,
    truth_output: Annotated[
        Path | None,
        typer.Option(
            help="With --detector none: also write the truth particles (pid, charge, no "
            "700 cap) to this truth file, for `adsearch simulate` later"
        ),
    ] = None,
    shard_dir: Annotated[
        Path | None,
        typer.Option(
            help="Generate resumably into shard files in this directory (rerun the same "
            "command to continue after a kill; merge with --merge or -o)",
            show_default=False,
        ),
    ] = None,
    shard_size: Annotated[
        int | None,
        typer.Option(help="With --shard-dir: triggered events per shard (default 20000)"),
    ] = None,
    max_shards: Annotated[
        int | None,
        typer.Option(help="With --shard-dir: stop after this many new shards (batch jobs)"),
    ] = None,
    merge: Annotated[
        Path | None,
        typer.Option(
            help="Merge the finished shards of this directory into -o FILE (no generation)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Generate LHCO-like events with Pythia 8 and write them as LHCO-format HDF5.

    Large samples: --shard-dir DIR writes shards resumably (rerun to continue after a kill).

    Then --merge DIR -o FILE writes them as one file (the events of a one-file run).
    """
    from adsearch.errors import ConfigError
    from adsearch.generate import (
        TriggerConfig,
        generate_to_file,
        generate_truth_to_files,
        get_process,
        load_process,
    )
    from adsearch.generate.processes import PROCESSES

    if merge is not None:
        if process is not None or config is not None or shard_dir is not None:
            raise ConfigError(
                "--merge takes no PROCESS, --config or --shard-dir (the shard directory's "
                "manifest holds the configuration)"
            )
        _merge(merge, output)
        return
    if shard_dir is None and (shard_size is not None or max_shards is not None):
        raise ConfigError("--shard-size and --max-shards need --shard-dir")
    if process is None and config is None:
        raise ConfigError(f"give a PROCESS ({', '.join(PROCESSES)}) or --config")
    if process is not None and process not in PROCESSES:
        raise ConfigError(f"unknown process {process!r} (choose from {', '.join(PROCESSES)})")
    overrides = {
        "pthatmin": pthatmin,
        "m_wprime": m_wprime,
        "m_x": m_x,
        "m_y": m_y,
        "wprime_mass_min": wprime_mass_min,
        "mpi": mpi,
    }
    if config is not None:
        cfg = load_process(config, **overrides)
        if process is not None and process != cfg.process:
            raise ConfigError(f"{config}: process {cfg.process!r} but {process!r} was given")
    else:
        assert process is not None  # checked above: a process or a config
        cfg = get_process(process, **overrides)
    trigger = TriggerConfig(enabled=not no_trigger, pt_min=trigger_pt, eta_max=trigger_eta)
    if shard_dir is not None:
        if truth_output is not None:
            raise ConfigError("--truth-output cannot be combined with --shard-dir")
        kwargs = {"shard_size": shard_size, "max_shards": max_shards, "block_size": block_size}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        _generate_shards(shard_dir, output, cfg, n_events, seed, workers, detector, trigger, kwargs)
        return
    output = Path("events.h5") if output is None else output
    if truth_output is not None:
        if detector != "none":
            raise ConfigError("--truth-output needs --detector none (truth-level generation)")
        t = generate_truth_to_files(
            output, truth_output, cfg, n_events, seed, workers, trigger, block_size=block_size
        )
        typer.echo(
            f"wrote {t.n_events} truth-level {t.process} events to {output} ({t.n_truncated} "
            f"cut to 700 particles) and to the truth file {truth_output}"
        )
        return
    s = generate_to_file(
        output,
        cfg,
        n_events,
        seed,
        workers=workers,
        detector=detector,
        trigger=trigger,
        block_size=block_size,
    )
    trunc = f", {s.n_truncated} events cut to 700 particles" if s.n_truncated else ""
    typer.echo(
        f"wrote {s.n_events} {s.process} events to {output} (generated {s.n_generated}, "
        f"trigger efficiency {s.trigger_efficiency:.3f}{trunc}) in {s.seconds:.1f} s: "
        f"{s.events_per_second:.1f} events/s, {s.generated_per_second:.1f} Pythia events/s "
        f"with {s.workers} worker(s)"
    )


def _generate_shards(
    shard_dir: Path,
    output: Path | None,
    cfg: Any,
    n_events: int,
    seed: int,
    workers: int,
    detector: str,
    trigger: Any,
    kwargs: dict[str, Any],
) -> None:
    """Resumable generation into ``shard_dir``; merged into ``output`` once complete."""
    from adsearch.generate.generator import check_output_path
    from adsearch.generate.shards import ShardInfo, generate_shards

    if output is not None:
        check_output_path(output)  # before hours of generation

    def report(s: ShardInfo) -> None:
        typer.echo(
            f"shard {s.index + 1}/{s.n_shards} ({Path(s.path).name}): {s.n_events} events in "
            f"{s.seconds:.1f} s ({s.n_events / max(s.seconds, 1e-9):.1f} events/s)"
        )

    s = generate_shards(
        shard_dir, cfg, n_events, seed, workers, detector, trigger, on_shard=report, **kwargs
    )
    new = (
        f"{s.n_new} new: {s.n_events_new} events in {s.seconds:.1f} s, "
        f"{s.events_per_second:.1f} events/s with {s.workers} worker(s)"
        if s.n_new
        else "nothing left to generate"
    )
    typer.echo(f"{s.n_done} of {s.n_shards} shards done in {shard_dir} ({new})")
    if not s.complete:
        typer.echo("rerun the same command to generate the rest")
    elif output is not None:
        _merge(shard_dir, output)
    else:
        typer.echo(f"merge them with: adsearch generate --merge {shard_dir} -o FILE.h5")


def _merge(shard_dir: Path, output: Path | None) -> None:
    from adsearch.errors import ConfigError
    from adsearch.generate.shards import merge_shards

    if output is None:
        raise ConfigError("--merge needs -o FILE (the merged LHCO file)")
    m = merge_shards(shard_dir, output)
    typer.echo(
        f"merged {m.n_events} {m.process} events of {m.n_shards} shards from {shard_dir} into "
        f"{output} in {m.seconds:.1f} s"
    )


def mix(
    background: Annotated[Path, typer.Option(help="Background LHCO HDF5 file")],
    signal: Annotated[Path, typer.Option(help="Signal LHCO HDF5 file")],
    n_signal: Annotated[int, typer.Option(help="Signal events to inject (first N of SIGNAL)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output LHCO HDF5 file")],
    seed: Annotated[int, typer.Option(help="Seed of the signal positions")] = 1,
    blackbox: Annotated[
        bool, typer.Option(help="Black-Box-like: no label column, answer key in --key")
    ] = False,
    key: Annotated[
        Path | None, typer.Option(help="Answer-key file for --blackbox (one 0/1 per line)")
    ] = None,
    n_background: Annotated[
        int | None, typer.Option(help="Use only the first N background events")
    ] = None,
) -> None:
    """Mix background and signal files into an R&D-like (labelled) or Black-Box-like file."""
    from adsearch.generate.mixing import mix as run_mix

    s = run_mix(
        background,
        signal,
        n_signal,
        output,
        seed,
        blackbox=blackbox,
        key=key,
        n_background=n_background,
    )
    what = f"answer key in {s.key_path}" if s.blackbox else "label column"
    typer.echo(
        f"wrote {s.n_events} events ({s.n_background} background + {s.n_signal} signal, "
        f"{what}) to {s.path}"
    )


def simulate(
    truth: Annotated[Path, typer.Argument(help="Truth file (adsearch.detector.write_truth)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output LHCO HDF5 file")],
    detector: Annotated[
        str, typer.Option(help="Detector card: lhco (built-in) or a card YAML")
    ] = "lhco",
    seed: Annotated[int, typer.Option(help="Detector seed (same seed -> same file)")] = 1,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Keep all events (no detector-level jet trigger)")
    ] = False,
) -> None:
    """Apply the detector response to a truth-level file and write LHCO-format HDF5.

    Truth files come from `adsearch generate --detector none --truth-output FILE`.
    LHCO-format files cannot be used as input: they carry no particle id or charge.
    """
    from adsearch.detector import simulate_file

    n = simulate_file(truth, output, detector, seed, trigger=not no_trigger)
    typer.echo(f"wrote {n} detector-level events to {output} (card {detector}, seed {seed})")

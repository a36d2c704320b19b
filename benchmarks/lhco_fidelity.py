"""How LHCO-like are generated events? Real LHCO medians next to generated ones.

Generates seeded QCD and W' 2-prong samples with ``adsearch.generate`` (Pythia 8 + the
``adsearch.detector`` response + the LHCO jet trigger), computes the quantities whose medians
on the first 1000 real LHCO R&D events we know (objects per event, constituents, masses,
tau21, tau32 of the lighter / heavier of the two leading anti-kT R=1.0 jets, mjj,
leading-jet pT) plus the object pT / eta spectra, and prints them next to the real-LHCO
medians. QCD is made in several variants (``--qcd``): Pythia's multiparton interactions
(MPI) on (the generator's default) or off, and optionally another ``PhaseSpace:pTHatMin``.
Also times the detector response against Pythia generation.

With ``--real FILE`` (an LHCO R&D HDF5 file, e.g. ``events_anomalydetection_tiny.h5`` of
github.com/lhcolympics2020/parsingscripts, the first 1000 events of the R&D file) the real
numbers are recomputed from that file and drawn as overlays; without it the stored medians
of those events are used and the plots show generated samples only.

Writes ``benchmarks/results/lhco_fidelity.json`` and ``benchmarks/results/lhco_fidelity_*.png``.

    nice -n 10 python benchmarks/lhco_fidelity.py                 # 5000 QCD (x2), 1000 W'
    nice -n 10 python benchmarks/lhco_fidelity.py --n-qcd 1000 --n-sig 500 --real tiny.h5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from adsearch.detector import apply_detector, card_to_json, load_card
from adsearch.io.atomic import atomic_path
from adsearch.io.events import Events

RESULTS = Path(__file__).parent / "results"

#: medians on the first 1000 events of the real R&D file
REAL_MEDIANS: dict[str, dict[str, float]] = {
    "qcd": {
        "objects_per_event": 166, "constituents_light": 39, "constituents_heavy": 65,
        "mass_light": 103, "mass_heavy": 227, "tau21_light": 0.60, "tau21_heavy": 0.52,
        "tau32_light": 0.75, "tau32_heavy": 0.73, "mjj": 3039, "pt_j1": 1354,
        "object_pt_q01": 0.29, "object_frac_pt_below_1": 0.16,
        "object_frac_abs_eta_above_2p5": 0.095,
    },
    "wprime": {
        "objects_per_event": 130, "constituents_light": 31, "constituents_heavy": 59,
        "mass_light": 109, "mass_heavy": 497, "tau21_light": 0.37, "tau21_heavy": 0.21,
        "tau32_light": 0.64, "tau32_heavy": 0.65, "mjj": 3466, "pt_j1": 1633,
    },
}  # fmt: skip

#: goals of the issue: relative (rel) or absolute (abs) tolerance on the median
GOALS: dict[str, tuple[str, float]] = {
    "objects_per_event": ("rel", 0.15),
    "constituents_light": ("rel", 0.15),
    "constituents_heavy": ("rel", 0.15),
    "mass_light": ("rel", 0.10),
    "mass_heavy": ("rel", 0.10),
    "tau21_light": ("abs", 0.03),
    "tau21_heavy": ("abs", 0.03),
    "tau32_light": ("abs", 0.03),
    "tau32_heavy": ("abs", 0.03),
    "mjj": ("rel", 0.03),
}


def per_event(events: Events) -> dict[str, np.ndarray]:
    """Per-event arrays: objects, and lighter/heavier-jet quantities of the 2 leading jets."""
    from adsearch.jets.features import compute_features

    f = compute_features(events)
    t = f.table
    ncons = ak.to_numpy(ak.num(f.constituents, axis=2))  # (n, 2) in pT order
    m = np.stack([t["mj1"], t["mj2"]], axis=1)
    heavy = np.argmax(m, axis=1)
    light = 1 - heavy
    rows = np.arange(len(m))

    def pick(a: np.ndarray, which: np.ndarray) -> np.ndarray:
        return a[rows, which]

    t21 = np.stack([t["tau21j1"], t["tau21j2"]], axis=1)
    t32 = np.stack([t["tau32j1"], t["tau32j2"]], axis=1)
    parts = events.particles[t["event_index"].astype(np.int64)]
    return {
        "objects_per_event": ak.to_numpy(ak.num(parts)),
        "constituents_light": pick(ncons, light),
        "constituents_heavy": pick(ncons, heavy),
        "mass_light": pick(m, light),
        "mass_heavy": pick(m, heavy),
        "tau21_light": pick(t21, light),
        "tau21_heavy": pick(t21, heavy),
        "tau32_light": pick(t32, light),
        "tau32_heavy": pick(t32, heavy),
        "mjj": t["mjj"],
        "pt_j1": t["ptj1"],
        "_object_pt": ak.to_numpy(ak.flatten(parts.pt)),
        "_object_eta": ak.to_numpy(ak.flatten(parts.eta)),
    }


def medians(arrs: dict[str, np.ndarray]) -> dict[str, float]:
    out = {k: float(np.median(v)) for k, v in arrs.items() if not k.startswith("_")}
    pt, eta = arrs["_object_pt"], arrs["_object_eta"]
    out["object_pt_q01"] = float(np.quantile(pt, 0.01))
    out["object_frac_pt_below_1"] = float(np.mean(pt < 1.0))
    out["object_frac_abs_eta_above_2p5"] = float(np.mean(np.abs(eta) > 2.5))
    out["n_events"] = len(arrs["mjj"])
    return out


def sr_medians(arrs: dict[str, np.ndarray], lo: float = 3300.0, hi: float = 3700.0):
    """Medians of the per-event quantities in the signal region lo < mjj < hi."""
    sel = (arrs["mjj"] > lo) & (arrs["mjj"] < hi)
    out = {k: float(np.median(v[sel])) for k, v in arrs.items() if not k.startswith("_")}
    out["n_events"] = int(sel.sum())
    return out


def goal_check(real: dict[str, float], gen: dict[str, float]) -> dict[str, dict[str, Any]]:
    out = {}
    for k, (kind, tol) in GOALS.items():
        if k not in real:
            continue
        diff = gen[k] - real[k]
        dev = diff / real[k] if kind == "rel" else diff
        out[k] = {"deviation": dev, "kind": kind, "tolerance": tol, "met": abs(dev) <= tol}
    return out


def read_real(path: str) -> dict[str, Events]:
    from adsearch.io import read_events

    ev = read_events(path)
    lab = np.asarray(ev.labels)
    return {
        "qcd": Events(ev.particles[lab == 0], lab[lab == 0], "real:qcd"),
        "wprime": Events(ev.particles[lab == 1], lab[lab == 1], "real:wprime"),
    }


def time_detector(card, seed: int, n: int = 400) -> dict[str, float]:
    """ms/event of Pythia QCD generation (MPI on) and of the detector on those events."""
    from adsearch.generate.processes import get_process
    from adsearch.generate.truth import ChargeTable, make_pythia, truth_particles

    pythia = make_pythia(get_process("qcd").pythia_settings(), seed)
    charges = ChargeTable(pythia.particleData)
    t0 = time.perf_counter()
    truth = truth_particles(pythia.nextBatch(n), charges)
    t_gen = time.perf_counter() - t0
    apply_detector(truth[:10], card, seed)  # warm-up
    t0 = time.perf_counter()
    apply_detector(truth, card, seed)
    t_det = time.perf_counter() - t0
    return {
        "events": n,
        "generation_ms_per_event": 1e3 * t_gen / n,
        "detector_ms_per_event": 1e3 * t_det / n,
        "detector_fraction_of_generation": t_det / t_gen,
        "truth_particles_per_event": float(ak.mean(ak.num(truth))),
    }


def plot(
    samples: dict[str, dict[str, np.ndarray]], real: dict[str, dict[str, np.ndarray]], out_dir: Path
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("objects_per_event", np.linspace(0, 500, 51), "objects per event"),
        ("constituents_light", np.linspace(0, 150, 51), "constituents, lighter jet"),
        ("constituents_heavy", np.linspace(0, 200, 51), "constituents, heavier jet"),
        ("mass_light", np.linspace(0, 600, 61), "lighter-jet mass [GeV]"),
        ("mass_heavy", np.linspace(0, 900, 61), "heavier-jet mass [GeV]"),
        ("tau21_light", np.linspace(0, 1, 41), "tau21, lighter jet"),
        ("tau21_heavy", np.linspace(0, 1, 41), "tau21, heavier jet"),
        ("tau32_light", np.linspace(0, 1, 41), "tau32, lighter jet"),
        ("tau32_heavy", np.linspace(0, 1, 41), "tau32, heavier jet"),
        ("mjj", np.linspace(2000, 5000, 61), "mjj [GeV]"),
        ("_object_pt", np.logspace(-1.5, 3.5, 51), "object pT [GeV]"),
        ("_object_eta", np.linspace(-5, 5, 51), "object eta"),
    ]
    written = []
    for proc in ("qcd", "wprime"):
        fig, axes = plt.subplots(3, 4, figsize=(16, 10.5))
        for ax, (key, bins, label) in zip(axes.flat, panels, strict=True):
            for name, arrs in samples.items():
                if not name.startswith(proc):
                    continue
                ax.hist(
                    arrs[key],
                    bins,
                    density=True,
                    histtype="step",
                    lw=1.5,
                    label=name.replace("_", " "),
                )
            if proc in real:
                ax.hist(
                    real[proc][key],
                    bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.3,
                    color="k",
                    label="real LHCO",
                )
            ax.set_xlabel(label)
            if key == "_object_pt":
                ax.set_xscale("log")
                ax.set_yscale("log")
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(
            f"{proc}: generated (adsearch.generate + detector 'lhco') vs real LHCO (density)"
        )
        fig.tight_layout()
        path = out_dir / f"lhco_fidelity_{proc}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)
        written.append(str(path))
    return written


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-qcd", type=int, default=5000, help="triggered QCD events per sample")
    ap.add_argument("--n-sig", type=int, default=1000, help="triggered W' 2-prong events")
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--card", default="lhco", help="detector card: 'lhco' or a YAML path")
    ap.add_argument(
        "--real",
        default=str(
            Path(__file__).parent.parent / "tests/data/lhco_real/events_anomalydetection_tiny.h5"
        ),
        help="real LHCO R&D HDF5 file for overlays (default: the 1000 real events in tests/data)",
    )
    ap.add_argument(
        "--qcd",
        default="mpi_on,mpi_off,mpi_off_pthat1100",
        help="QCD variants: comma list of mpi_on / mpi_off [+ _pthatNNNN]",
    )
    ap.add_argument("--out", default=str(RESULTS / "lhco_fidelity.json"))
    args = ap.parse_args(argv)

    from adsearch.generate import generate, get_process

    card = load_card(args.card)
    out_dir = Path(args.out).parent
    out_dir.mkdir(parents=True, exist_ok=True)

    samples: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    jobs = []
    for variant in args.qcd.split(","):
        parts = variant.strip().split("_")
        if parts[:1] != ["mpi"] or len(parts) not in (2, 3) or parts[1] not in ("on", "off"):
            ap.error(f"bad QCD variant {variant!r}")
        kw: dict[str, Any] = {"mpi": parts[1] == "on"}
        if len(parts) == 3:
            kw["pthatmin"] = float(parts[2].removeprefix("pthat"))
        jobs.append((f"qcd_{variant.strip()}", get_process("qcd", **kw), args.n_qcd))
    jobs.append(("wprime", get_process("wprime-2prong"), args.n_sig))
    for i, (name, proc, n) in enumerate(jobs):
        t0 = time.perf_counter()
        ev = generate(proc, n, seed=args.seed + i, workers=args.workers, detector=card)
        seconds[name] = time.perf_counter() - t0
        samples[name] = per_event(ev)
        print(f"{name}: {n} events in {seconds[name]:.0f} s", flush=True)

    real_arrs: dict[str, dict[str, np.ndarray]] = {}
    real_med = {k: dict(v) for k, v in REAL_MEDIANS.items()}
    if args.real:
        for proc, ev in read_real(args.real).items():
            real_arrs[proc] = per_event(ev)
            real_med[proc] = medians(real_arrs[proc])

    gen_med = {name: medians(a) for name, a in samples.items()}
    sr = {name: sr_medians(a) for name, a in samples.items()}
    for proc, a in real_arrs.items():
        sr[f"real_{proc}"] = sr_medians(a)
    print("signal region 3.3 < mjj < 3.7 TeV, medians:")
    for name, m in sr.items():
        print(f"  {name:24s} " + " ".join(f"{k}={v:.3g}" for k, v in m.items()))
    ks: dict[str, dict[str, float]] = {}
    if real_arrs:  # two-sample KS p-values of the full distributions against real LHCO
        from scipy.stats import ks_2samp

        for name, arrs in samples.items():
            ref = real_arrs["qcd" if name.startswith("qcd") else "wprime"]
            ks[name] = {
                k: float(ks_2samp(arrs[k], ref[k]).pvalue) for k in arrs if not k.startswith("_")
            }
            low = {k: round(v, 4) for k, v in ks[name].items() if v < 0.01}
            print(f"KS p < 0.01 vs real, {name}: {low}")
    keys = [k for k in REAL_MEDIANS["qcd"]] + ["n_events"]
    qcd_names = [k for k in samples if k.startswith("qcd")]
    header = f"{'median':32s} {'real QCD':>9s} " + " ".join(f"{n:>11s}" for n in qcd_names)
    header += f" {'real Wp':>9s} {'gen Wp':>9s}"
    print(header)
    for k in keys:
        row = f"{k:32s} {real_med['qcd'].get(k, float('nan')):9.3g} "
        row += " ".join(f"{gen_med[n].get(k, float('nan')):11.3g}" for n in qcd_names)
        row += f" {real_med['wprime'].get(k, float('nan')):9.3g}"
        row += f" {gen_med['wprime'].get(k, float('nan')):9.3g}"
        print(row)
    checks = {n: goal_check(real_med["qcd"], gen_med[n]) for n in qcd_names}
    checks["wprime"] = goal_check(real_med["wprime"], gen_med["wprime"])
    for n, c in checks.items():
        missed = {k: round(v["deviation"], 3) for k, v in c.items() if not v["met"]}
        print(f"goals {n}: {sum(v['met'] for v in c.values())}/{len(c)} met; missed: {missed}")

    timing = time_detector(card, args.seed)
    print(
        f"detector: {timing['detector_ms_per_event']:.3f} ms/event = "
        f"{100 * timing['detector_fraction_of_generation']:.1f} % of QCD generation "
        f"({timing['generation_ms_per_event']:.2f} ms/event)"
    )
    plots = plot(samples, real_arrs, out_dir)
    result = {
        "card": json.loads(card_to_json(card)),
        "seed": args.seed,
        "n_qcd": args.n_qcd,
        "n_sig": args.n_sig,
        "real_source": args.real
        or "medians of the first 1000 events of the real LHCO R&D file (tests/data/lhco_real)",
        "real": real_med,
        "generated": gen_med,
        "signal_region_medians": sr,
        "goals": checks,
        "ks_pvalues_vs_real": ks,
        "generation_seconds": seconds,
        "timing": timing,
        "plots": plots,
    }
    with atomic_path(args.out) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()

"""The weakly supervised searches: CWoLa hunting, CATHODE, and a reference-template classifier.

Each trains a classifier to tell the signal-region (SR) data from a background template and
returns the out-of-fold score of every data event (higher = more data-like than the
template, i.e. more signal-like). A signal localised in mjj and in the features makes the SR
data differ from the template only where the signal is, so the classifier learns it from the
data (Metodiev, Nachman, Thaler, JHEP 10 (2017) 174):

* ``cwola`` — CWoLa hunting (Collins, Howe, Nachman, PRL 121, 241803): template = the data
  of the sidebands next to the SR; the classifier sees SR vs sideband data.
* ``cathode`` — CATHODE (Hallin et al., PRD 106, 055006): a conditional normalizing flow
  ``p(x | mjj)`` is trained on the sideband data and sampled at the mjj of every SR data
  event (``oversampling`` times); template = these samples.
* ``lacathode`` — LaCATHODE (Hallin et al., PRD 107, 114012): CATHODE's flow maps every
  event to its latent space, where the background is standard normal at every mjj; the
  classifier tells the SR data's latents from standard-normal samples, so its cut keeps
  the same background fraction at every mass.
* ``reference`` — template = the SR events of a background sample the user gives (a
  simulation, or generated QCD). With the true background this is the idealized anomaly
  detector, the reference point of the other two.

All random steps (folds, models, flow, samples) are seeded by ``WeakConfig.seed``. Inputs
are numpy arrays (:func:`cwola`, :func:`cathode`, :func:`reference`) or event tables
(:func:`weak_scores`); bad inputs raise one-line :class:`~adsearch.errors.InputError`.

Examples
--------
>>> from adsearch.weak.toys import planted_toy
>>> toy = planted_toy(n_background=3000, n_signal=300, seed=0)
>>> cfg = WeakConfig(method="cwola", n_folds=3,
...                  classifier=ClassifierConfig(kind="hgb", n_members=1))
>>> res = cwola(toy.x, toy.mjj, cfg)
>>> res.scores.shape == toy.mjj.shape
True
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.errors import InputError
from adsearch.weak.classifiers import Ensemble, assign_folds, kfold_classify, member_seed
from adsearch.weak.config import ClassifierConfig, WeakConfig
from adsearch.weak.features import check_finite, check_same_columns, feature_matrix
from adsearch.weak.flow import ConditionalFlow

__all__ = [
    "ClassifierConfig",
    "WeakResult",
    "cathode",
    "cwola",
    "lacathode",
    "reference",
    "regions",
    "weak_scores",
]


@dataclass
class WeakResult:
    """What a weakly supervised search produced.

    Attributes
    ----------
    scores : out-of-fold score of every data event, input order.
    ensemble : the classifier ensemble (:meth:`Ensemble.predict` scores new events).
    test_scores : the ensemble's scores of the test events (when given), input order.
    template_scores : out-of-fold scores of the template events the classifier trained on
        (sideband data, flow samples or reference SR events): against the SR data scores they
        give the data-vs-template AUC, ≈ 0.5 when the SR data hold no signal.
    flow : CATHODE's trained flow (else ``None``).
    info : counts, folds, timings, losses — the JSON of what ran.
    """

    scores: np.ndarray
    ensemble: Ensemble
    test_scores: np.ndarray | None = None
    template_scores: np.ndarray | None = None
    flow: ConditionalFlow | None = None
    info: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Limit torch and the OpenMP/BLAS pools to ``n`` threads inside the block."""
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def regions(mjj: np.ndarray, cfg: WeakConfig) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(signal_region, sidebands)`` of events with invariant mass ``mjj``.

    The SR is ``lo <= mjj < hi``; the sidebands are ``sideband_width`` GeV on each side
    (everything outside the SR when ``None``).

    >>> sr, sb = regions(np.array([2900.0, 3350.0, 3800.0]), WeakConfig(sideband_width=300.0))
    >>> sr.tolist(), sb.tolist()
    ([False, True, False], [False, False, True])
    """
    lo, hi = cfg.signal_region
    sr = (mjj >= lo) & (mjj < hi)
    sb = ~sr
    if cfg.sideband_width is not None:
        w = cfg.sideband_width
        sb &= (mjj >= lo - w) & (mjj < hi + w)
    return sr, sb


def _check_data(
    x: np.ndarray, mjj: np.ndarray, cfg: WeakConfig, what: str, sidebands: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The SR and SB masks of ``(x, mjj)``, after the one-line checks of the inputs."""
    if x.ndim != 2 or mjj.ndim != 1 or len(x) != len(mjj):
        raise InputError(f"{what}: features {x.shape} and mjj {mjj.shape} do not match")
    if x.shape[1] != len(cfg.features):
        raise InputError(f"{what}: {x.shape[1]} feature columns, config names {len(cfg.features)}")
    check_finite(x, cfg.features, what)
    check_finite(mjj[:, None], ["mjj"], what)
    lo, hi = cfg.signal_region
    if mjj.size == 0:
        raise InputError(f"{what}: no events")
    if hi <= mjj.min() or lo > mjj.max():
        raise InputError(
            f"{what}: signal region {lo:.0f}-{hi:.0f} GeV lies outside the data's mjj range "
            f"{mjj.min():.0f}-{mjj.max():.0f} GeV"
        )
    sr, sb = regions(mjj, cfg)
    if sr.sum() < cfg.min_events:
        raise InputError(
            f"{what}: {int(sr.sum())} events in the signal region {lo:.0f}-{hi:.0f} GeV, "
            f"too few (min_events = {cfg.min_events})"
        )
    if sidebands and not sb.any():
        raise InputError(f"{what}: the sidebands of {lo:.0f}-{hi:.0f} GeV hold no event")
    if sidebands and sb.sum() < cfg.min_events:
        raise InputError(
            f"{what}: {int(sb.sum())} events in the sidebands, too few "
            f"(min_events = {cfg.min_events})"
        )
    return sr, sb


def _finish(
    cfg: WeakConfig,
    kf: Any,
    n_data: int,
    x_test: np.ndarray | None,
    info: dict[str, Any],
    flow: ConditionalFlow | None = None,
) -> WeakResult:
    kf.ensemble.features = list(cfg.features)
    scores = kf.scores[:n_data]
    test_scores = None
    if x_test is not None:
        x_test = np.asarray(x_test, dtype=np.float64)
        if x_test.ndim != 2 or x_test.shape[1] != len(cfg.features):
            raise InputError(f"test: {x_test.shape} is not (n, {len(cfg.features)})")
        test_scores = kf.ensemble.predict(x_test)
    info["members"] = len(kf.ensemble.members)
    info["epochs"] = [len(m.history) for m in kf.ensemble.members]
    template = kf.scores[np.flatnonzero(kf.trainable & (kf.labels == 0))]
    return WeakResult(scores, kf.ensemble, test_scores, template, flow, info)


def _check_test(x_test: np.ndarray | None, cfg: WeakConfig) -> None:
    if x_test is not None:
        check_finite(np.asarray(x_test, dtype=np.float64), cfg.features, "test")


def cwola(
    x: np.ndarray,
    mjj: np.ndarray,
    cfg: WeakConfig,
    x_test: np.ndarray | None = None,
    progress: bool | None = None,
) -> WeakResult:
    """CWoLa hunting: classify signal-region data (1) against sideband data (0).

    Parameters
    ----------
    x : ``(n, d)`` features of the data events (``cfg.features``, in order).
    mjj : ``(n,)`` dijet invariant mass in GeV.
    cfg : the configuration (signal region, ``sideband_width``, folds, classifier, seed).
    x_test : optional ``(n_test, d)`` events scored by the whole ensemble.
    progress : progress bars (default: when stderr is a terminal).

    Returns
    -------
    WeakResult
        ``scores`` of all ``n`` events, each from models that never trained on it; events
        outside the SR and sidebands are scored by the members of their own fold.
    """
    x = np.asarray(x, dtype=np.float64)
    mjj = np.asarray(mjj, dtype=np.float64)
    sr, sb = _check_data(x, mjj, cfg, "data", sidebands=True)
    _check_test(x_test, cfg)
    folds = assign_folds(len(x), cfg.n_folds, cfg.seed)
    t0 = time.perf_counter()
    with _threads(cfg.threads):
        kf = kfold_classify(x, sr.astype(float), folds, cfg.classifier, cfg.seed, sr | sb,
                            progress, workers=cfg.workers)  # fmt: skip
    info = {
        "method": "cwola",
        "n_data": len(x),
        "n_signal_region": int(sr.sum()),
        "n_sidebands": int(sb.sum()),
        "seconds_classifier": round(time.perf_counter() - t0, 2),
    }
    return _finish(cfg, kf, len(x), x_test, info)


def cathode(
    x: np.ndarray,
    mjj: np.ndarray,
    cfg: WeakConfig,
    x_test: np.ndarray | None = None,
    progress: bool | None = None,
    flow_cache: str | os.PathLike[str] | None = None,
) -> WeakResult:
    """CATHODE: classify signal-region data (1) against flow samples of the background (0).

    The flow ``p(x | mjj)`` (:class:`~adsearch.weak.flow.ConditionalFlow`) is trained on
    the sideband data (mjj in TeV) and sampled ``cfg.flow.oversampling`` times at the mjj of
    every SR data event; each sample inherits the fold of its data event.

    Parameters and returns as :func:`cwola`; ``WeakResult.flow`` holds the flow.
    ``flow_cache`` is a directory of trained flows, keyed by everything the training depends
    on (:func:`flow_key`): a flow found there is loaded instead of trained (the same flow, so
    the same samples), a new one is saved there. Trying other classifiers on the same data
    then skips the flow, by far the longest part at LHCO size.
    """
    x = np.asarray(x, dtype=np.float64)
    mjj = np.asarray(mjj, dtype=np.float64)
    sr, sb = _check_data(x, mjj, cfg, "data", sidebands=True)
    _check_test(x_test, cfg)
    folds = assign_folds(len(x), cfg.n_folds, cfg.seed)
    t0 = time.perf_counter()
    with _threads(cfg.threads):
        flow, cached = _cached_flow(x[sb], mjj[sb] / 1000.0, cfg, flow_cache, progress)
        t1 = time.perf_counter()
        m_samples = np.repeat(mjj[sr], cfg.flow.oversampling) / 1000.0
        samples = flow.sample(m_samples, member_seed(cfg.seed, 2))
        check_finite(samples, cfg.features, "flow samples")
        t2 = time.perf_counter()
        kf = _classify_against_samples(x, samples, sr, folds, cfg, progress)
    info = {
        **_flow_info("cathode", sr, sb, len(samples), flow, cached, t1 - t0),
        "seconds_sampling": round(t2 - t1, 2),
        "seconds_classifier": round(time.perf_counter() - t2, 2),
    }
    return _finish(cfg, kf, len(x), x_test, info, flow)


def _classify_against_samples(
    data: np.ndarray,
    samples: np.ndarray,
    sr: np.ndarray,
    folds: np.ndarray,
    cfg: WeakConfig,
    progress: bool | None,
) -> Any:
    """The k-fold ensemble of (La)CATHODE: every data row (1; the SR rows train) against the
    template samples (0), ``cfg.flow.oversampling`` per SR event in SR order, each inheriting
    its event's fold."""
    k = cfg.flow.oversampling
    rows = np.r_[data, samples]
    y = np.r_[np.ones(len(data)), np.zeros(len(samples))]
    all_folds = np.r_[folds, np.repeat(folds[sr], k)]
    trainable = np.r_[sr, np.ones(len(samples), bool)]
    return kfold_classify(
        rows, y, all_folds, cfg.classifier, cfg.seed, trainable, progress, workers=cfg.workers
    )


def _flow_info(
    method: str,
    sr: np.ndarray,
    sb: np.ndarray,
    n_samples: int,
    flow: ConditionalFlow,
    cached: bool,
    seconds_flow: float,
) -> dict[str, Any]:
    """The part of ``info`` that (La)CATHODE share: counts and the flow's training."""
    return {
        "method": method,
        "n_data": len(sr),
        "n_signal_region": int(sr.sum()),
        "n_sidebands": int(sb.sum()),
        "n_samples": n_samples,
        "flow_epochs": len(flow.history),
        "flow_best_val_nll": round(float(np.min(flow.history)), 5),
        "seconds_flow": round(seconds_flow, 2),
        "flow_from_cache": cached,
    }


def lacathode(
    x: np.ndarray,
    mjj: np.ndarray,
    cfg: WeakConfig,
    x_test: np.ndarray | None = None,
    mjj_test: np.ndarray | None = None,
    progress: bool | None = None,
    flow_cache: str | os.PathLike[str] | None = None,
) -> WeakResult:
    """LaCATHODE: CATHODE's classifier in the latent space of its flow.

    The sideband flow of :func:`cathode` (the same flow: same cache key) maps every event to
    ``z = f(x; mjj)`` (:meth:`~adsearch.weak.flow.ConditionalFlow.latent`); the classifier
    tells the SR data's ``z`` (1) from standard-normal samples (0, ``cfg.flow.oversampling``
    per SR event) and scores every event by its own ``z``. Where the flow describes the
    background, ``z`` is standard normal at every mjj, so a cut on the score keeps the same
    background fraction at every mass and cannot carve a bump out of the features' mjj
    dependence — CATHODE's cut can, when its classifier is applied outside the SR
    (Hallin et al., "Resonant anomaly detection without background sculpting", PRD 107,
    114012). The price: the classifier sees the signal through the flow's map.

    Parameters and returns as :func:`cathode`; ``mjj_test`` (GeV) is needed with
    ``x_test`` (the map depends on the mass). The ensemble in ``WeakResult.ensemble`` takes
    latent coordinates (map new events with ``WeakResult.flow.latent(x, mjj / 1000)``).
    """
    x = np.asarray(x, dtype=np.float64)
    mjj = np.asarray(mjj, dtype=np.float64)
    sr, sb = _check_data(x, mjj, cfg, "data", sidebands=True)
    _check_test(x_test, cfg)
    if x_test is not None and (mjj_test is None or len(mjj_test) != len(x_test)):
        raise InputError("test: lacathode needs the mjj of every test event")
    folds = assign_folds(len(x), cfg.n_folds, cfg.seed)
    t0 = time.perf_counter()
    with _threads(cfg.threads):
        flow, cached = _cached_flow(x[sb], mjj[sb] / 1000.0, cfg, flow_cache, progress)
        t1 = time.perf_counter()
        z = flow.latent(x, mjj / 1000.0)
        check_finite(z, cfg.features, "flow latent of the data")
        rng = np.random.default_rng(member_seed(cfg.seed, 2))
        samples = rng.standard_normal((cfg.flow.oversampling * int(sr.sum()), x.shape[1]))
        t2 = time.perf_counter()
        kf = _classify_against_samples(z, samples, sr, folds, cfg, progress)
        z_test = None
        if x_test is not None:
            assert mjj_test is not None
            z_test = flow.latent(np.asarray(x_test, dtype=np.float64),
                                 np.asarray(mjj_test, dtype=np.float64) / 1000.0)  # fmt: skip
    info = {
        **_flow_info("lacathode", sr, sb, len(samples), flow, cached, t1 - t0),
        "seconds_latent": round(t2 - t1, 2),
        "seconds_classifier": round(time.perf_counter() - t2, 2),
        "latent_sidebands_mean": np.round(z[sb].mean(axis=0), 4).tolist(),
        "latent_sidebands_std": np.round(z[sb].std(axis=0), 4).tolist(),
        "latent_signal_region_mean": np.round(z[sr].mean(axis=0), 4).tolist(),
        "latent_signal_region_std": np.round(z[sr].std(axis=0), 4).tolist(),
    }
    return _finish(cfg, kf, len(x), z_test, info, flow)


def flow_key(x: np.ndarray, m: np.ndarray, cfg: WeakConfig) -> str:
    """Content hash of a CATHODE flow training: its inputs (the sideband features and mjj,
    bit for bit), the flow configuration, the features' names, the seed and the thread count
    (a multithreaded training is not bit-identical to a single-threaded one)."""
    import dataclasses
    import hashlib
    import json

    meta = {
        "flow": dataclasses.asdict(cfg.flow),
        "features": list(cfg.features),
        "seed": cfg.seed,
        "threads": cfg.threads,
        "shape": list(np.shape(x)),
    }
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(m, dtype=np.float64).tobytes())
    return h.hexdigest()[:32]


def _cached_flow(
    x: np.ndarray,
    m: np.ndarray,
    cfg: WeakConfig,
    cache: str | os.PathLike[str] | None,
    progress: bool | None,
) -> tuple[ConditionalFlow, bool]:
    """The sideband flow: loaded from ``cache`` when trained there before, else trained
    (and saved there atomically); returns ``(flow, loaded)``."""
    seed = member_seed(cfg.seed, 1)
    if cache is None:
        return ConditionalFlow(cfg.flow).fit(x, m, seed, progress), False
    import torch

    from adsearch.io.atomic import atomic_path

    path = Path(cache) / f"flow-{flow_key(x, m, cfg)}.pt"
    if path.is_file():
        try:
            blob = torch.load(path, weights_only=False)  # our own cache files only
        except Exception:  # a damaged cache entry is retrained, not fatal
            blob = None
        if isinstance(blob, dict):
            return ConditionalFlow.from_blob(blob), True
    flow = ConditionalFlow(cfg.flow).fit(x, m, seed, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(flow.to_blob(), tmp)
    return flow, False


def mjj_weights(mjj_data: np.ndarray, mjj_template: np.ndarray, cfg: WeakConfig) -> np.ndarray:
    """Weights of template events making their SR mjj histogram the data's (mean 1).

    Ratio of the two normalised histograms in ``cfg.mjj_bins`` equal bins across the SR; a
    bin without template events gets no weight to give (its data stay unmatched).

    >>> cfg = WeakConfig(signal_region=(1.0, 3.0), mjj_bins=2)
    >>> data, template = np.array([1.5, 2.5, 2.5, 2.5]), np.array([1.5, 1.5, 2.5])
    >>> mjj_weights(data, template, cfg).round(3).tolist()
    [0.375, 0.375, 2.25]
    """
    lo, hi = cfg.signal_region
    edges = np.linspace(lo, hi, cfg.mjj_bins + 1)
    hd = np.histogram(mjj_data, edges)[0].astype(np.float64)
    ht = np.histogram(mjj_template, edges)[0].astype(np.float64)
    ratio = np.divide(hd / hd.sum(), ht / ht.sum(), out=np.zeros_like(hd), where=ht > 0)
    b = np.clip(np.searchsorted(edges, mjj_template, side="right") - 1, 0, cfg.mjj_bins - 1)
    w = ratio[b]
    return w / w.mean()


def reference(
    x: np.ndarray,
    mjj: np.ndarray,
    x_ref: np.ndarray,
    mjj_ref: np.ndarray,
    cfg: WeakConfig,
    x_test: np.ndarray | None = None,
    progress: bool | None = None,
) -> WeakResult:
    """Classify signal-region data (1) against the signal-region events of a reference (0).

    With the true background as reference this is the idealized anomaly detector. The
    reference events are split into folds of their own (seeded) and only trained on; with
    ``cfg.reweight_mjj`` they are weighted to the data's mjj distribution in the SR
    (:func:`mjj_weights`).

    Parameters and returns as :func:`cwola`, plus ``x_ref``/``mjj_ref`` of the reference.
    """
    x = np.asarray(x, dtype=np.float64)
    mjj = np.asarray(mjj, dtype=np.float64)
    x_ref = np.asarray(x_ref, dtype=np.float64)
    mjj_ref = np.asarray(mjj_ref, dtype=np.float64)
    sr, _ = _check_data(x, mjj, cfg, "data", sidebands=False)
    if x_ref.ndim != 2 or x_ref.shape[1:] != x.shape[1:]:
        raise InputError(f"reference: features {x_ref.shape} do not match the data's {x.shape}")
    sr_ref, _ = _check_data(x_ref, mjj_ref, cfg, "reference", sidebands=False)
    _check_test(x_test, cfg)
    folds = assign_folds(len(x), cfg.n_folds, cfg.seed)
    ref_folds = assign_folds(int(sr_ref.sum()), cfg.n_folds, member_seed(cfg.seed, 3))
    t0 = time.perf_counter()
    rows = np.r_[x, x_ref[sr_ref]]
    y = np.r_[np.ones(len(x)), np.zeros(int(sr_ref.sum()))]
    trainable = np.r_[sr, np.ones(int(sr_ref.sum()), bool)]
    weight = None
    if cfg.reweight_mjj:
        weight = np.r_[np.ones(len(x)), mjj_weights(mjj[sr], mjj_ref[sr_ref], cfg)]
    with _threads(cfg.threads):
        kf = kfold_classify(rows, y, np.r_[folds, ref_folds], cfg.classifier, cfg.seed,
                            trainable, progress, weight, cfg.workers)  # fmt: skip
    info = {
        "method": "reference",
        "n_data": len(x),
        "n_signal_region": int(sr.sum()),
        "n_reference_signal_region": int(sr_ref.sum()),
        "seconds_classifier": round(time.perf_counter() - t0, 2),
    }
    return _finish(cfg, kf, len(x), x_test, info)


def _arrays(table: Mapping[str, Any], cfg: WeakConfig, what: str) -> tuple[np.ndarray, np.ndarray]:
    if "mjj" not in table:
        raise InputError(f"{what}: no 'mjj' column")
    x = feature_matrix(table, cfg.features, what)
    return x, np.asarray(table["mjj"], dtype=np.float64)


def weak_scores(
    data: Mapping[str, Any],
    cfg: WeakConfig,
    reference_table: Mapping[str, Any] | None = None,
    test: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    flow_cache: str | os.PathLike[str] | None = None,
) -> WeakResult:
    """Run ``cfg.method`` on event tables (DataFrames or mappings of column arrays).

    ``flow_cache``: CATHODE's directory of trained flows (:func:`cathode`).

    The features ``cfg.features`` are computed from the jet columns of each table
    (:func:`adsearch.weak.features.feature_matrix`); a ``label`` column is never read.

    Raises
    ------
    InputError
        No ``mjj``; missing columns; a reference with other columns than the data, or none
        for ``method="reference"``; NaN features; a signal region outside the data; empty
        sidebands; too few events.
    """
    x, mjj = _arrays(data, cfg, "data")
    x_test = None
    if test is not None:
        x_test = feature_matrix(test, cfg.features, "test")
        check_finite(x_test, cfg.features, "test")
    if cfg.method == "reference":
        if reference_table is None:
            raise InputError("method 'reference' needs a reference table (--reference)")
        check_same_columns(data, reference_table, "reference")
        x_ref, mjj_ref = _arrays(reference_table, cfg, "reference")
        return reference(x, mjj, x_ref, mjj_ref, cfg, x_test, progress)
    if cfg.method == "cwola":
        return cwola(x, mjj, cfg, x_test, progress)
    if cfg.method == "lacathode":
        mjj_test = None if test is None else _arrays(test, cfg, "test")[1]
        return lacathode(x, mjj, cfg, x_test, mjj_test, progress, flow_cache)
    return cathode(x, mjj, cfg, x_test, progress, flow_cache)

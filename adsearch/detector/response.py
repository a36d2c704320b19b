"""Fast, vectorised particle-flow detector response (Delphes ``SimpleCalorimeter`` style).

:func:`apply_detector` turns truth-level final-state particles into massless detector-level
objects, as Delphes 3.4.1 with the CMS card writes them (``EFlowTrack``, ``EFlowPhoton``,
``EFlowNeutralHadron``), which is what the LHC Olympics 2020 files hold. Per batch of
events, without Python loops over events or particles:

1. **Propagation**: charged particles follow a helix in the solenoid (radius, half-length,
   Bz of the card) until the barrel or endcap surface; that entry point, not the momentum
   direction, selects the calorimeter tower they deposit in. Neutral particles fly straight.
   Production vertices are taken at the origin.
2. **Tracking**: a charged particle inside ``|eta| < eta_max`` above ``pt_min`` becomes a
   track with the tabulated efficiency; its pT is smeared log-normally with
   ``sigma/pT = sqrt(c**2 + (s pT)**2)``; its direction is the true one.
3. **Calorimeters**: each particle deposits ``fraction(|pid|) * E`` in the ECAL and HCAL
   tower containing its entry point (towers: the card's eta bins times equal phi bins).
   Tower energies are summed per (event, cell) with one ``np.unique`` + ``np.bincount``,
   smeared log-normally (mean preserving, width from the card's resolution at the tower
   centre), and zeroed below ``energy_min`` or ``significance_min * sigma``.
4. **Particle flow** (per tower, as Delphes): tracks whose particle deposits in this
   calorimeter (fraction > 0) are matched to the tower of their entry point. If the tower
   energy exceeds the matched track energy by more than ``energy_min`` and by
   ``significance_min`` standard deviations (tower and track resolutions in quadrature),
   the excess becomes one neutral object (a photon in the ECAL, a neutral hadron in the
   HCAL); otherwise the matched tracks are rescaled to the error-weighted mean of track and
   tower energies. Neutral objects sit at a uniformly random point of their cell.
5. **Output**: tracks, then ECAL neutrals, then HCAL neutrals, per event, as
   ``events * var * {pt, eta, phi, mass=0}`` (``card.eflow = False`` gives ECAL + HCAL
   towers instead, no tracks).

Not modelled: pile-up, material interactions (conversions, nuclear interactions,
bremsstrahlung), displaced vertices, shower spreading into neighbouring towers, electron /
muon / photon identification and isolation; electrons and muons use the charged-hadron
tracking table (they are rare inside jets).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from adsearch.detector.card import CaloResolution, Calorimeter, DetectorCard
from adsearch.errors import InputError

__all__ = ["TRUTH_FIELDS", "apply_detector"]

#: fields :func:`apply_detector` needs on its input
TRUTH_FIELDS = ("pt", "eta", "phi", "mass", "pid", "charge")

_C = 0.299792458  # GeV / (T m): pT = 0.3 B rho for unit charge
_TWO_PI = 2.0 * np.pi


def _lognormal(mean: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Log-normal draw with the given mean and standard deviation (Delphes ``LogNormal``);
    0 where ``mean <= 0``. ``z`` are standard-normal numbers."""
    out = np.zeros_like(mean)
    ok = mean > 0
    m, s = mean[ok], sigma[ok]
    b = np.sqrt(np.log1p((s / m) ** 2))
    out[ok] = np.exp(np.log(m) - 0.5 * b * b + b * z[ok])
    return out


def _calo_sigma(regions: list[CaloResolution], abs_eta: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Tower energy resolution (GeV) at |eta| and energy ``e``; 0 beyond the last region."""
    sigma = np.zeros_like(e)
    edges = np.array([r.eta_max for r in regions])
    idx = np.searchsorted(edges, abs_eta, side="left")
    for i, r in enumerate(regions):  # loop over the card's few regions, not over particles
        sel = idx == i
        if not sel.any():
            continue
        ae, ee = abs_eta[sel], e[sel]
        scale = r.scale + r.scale_slope * (ae - r.scale_eta0) ** 2
        sigma[sel] = scale * np.sqrt((r.constant * ee) ** 2 + r.stochastic**2 * ee + r.noise**2)
    return sigma


def _entry_point(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, charge: np.ndarray, card: DetectorCard
) -> tuple[np.ndarray, np.ndarray]:
    """(eta, phi) where each particle enters the calorimeter (helix in the solenoid)."""
    sol = card.solenoid
    eta_c = eta.copy()
    phi_c = phi.copy()
    ch = np.abs(charge) > 1e-9
    if sol.bz <= 0 or not ch.any():
        return eta_c, phi_c
    q = charge[ch]
    rho = pt[ch] / (_C * sol.bz * np.abs(q))  # helix radius in m
    sh = np.sinh(eta[ch])
    reach = 2.0 * rho >= sol.radius
    alpha_r = 2.0 * np.arcsin(np.minimum(sol.radius / (2.0 * rho), 1.0))
    z_r = rho * alpha_r * sh
    barrel = reach & (np.abs(z_r) <= sol.half_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_z = sol.half_length / (rho * np.abs(sh))
        alpha = np.where(barrel, alpha_r, alpha_z)
        r_t = np.where(barrel, sol.radius, 2.0 * rho * np.abs(np.sin(0.5 * alpha)))
        z_t = np.where(barrel, z_r, np.sign(sh) * sol.half_length)
        e_c = np.arcsinh(z_t / r_t)
    e_c[~np.isfinite(e_c)] = np.inf  # never leaves the tracker volume: no tower
    # positive charges turn clockwise for Bz > 0
    p_c = np.mod(phi[ch] - np.sign(q) * 0.5 * alpha + np.pi, _TWO_PI) - np.pi
    p_c[~np.isfinite(p_c)] = 0.0
    eta_c[ch] = e_c
    phi_c[ch] = p_c
    return eta_c, phi_c


class _Grid:
    """Tower geometry of one calorimeter: global cell index <-> (eta bin, phi bin)."""

    def __init__(self, calo: Calorimeter) -> None:
        self.edges, self.nphi = calo.cells()
        self.offset = np.concatenate([[0], np.cumsum(self.nphi)])
        self.n_cells = int(self.offset[-1])

    def cell(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Cell index (-1 outside), bins as Delphes: (lower, upper] edges."""
        ib = np.searchsorted(self.edges, eta, side="left")  # lower_bound
        inside = (ib >= 1) & (ib <= len(self.nphi))
        ib = np.clip(ib - 1, 0, len(self.nphi) - 1)
        n = self.nphi[ib]
        inside &= n > 0
        jp = np.ceil((phi + np.pi) * n / _TWO_PI).astype(np.int64) - 1
        jp = np.clip(jp, 0, np.maximum(n - 1, 0))
        return np.where(inside, self.offset[ib] + jp, -1)

    def bounds(self, cell: np.ndarray) -> tuple[np.ndarray, ...]:
        """(eta_lo, eta_hi, phi_lo, phi_hi) of cells."""
        ib = np.searchsorted(self.offset, cell, side="right") - 1
        jp = cell - self.offset[ib]
        width = _TWO_PI / self.nphi[ib]
        phi_lo = -np.pi + jp * width
        return self.edges[ib], self.edges[ib + 1], phi_lo, phi_lo + width


def _calorimeter(
    calo: Calorimeter,
    ev: np.ndarray,
    energy: np.ndarray,
    eta_c: np.ndarray,
    phi_c: np.ndarray,
    abs_pid: np.ndarray,
    trk: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Towers and particle-flow neutrals of one calorimeter.

    Returns (towers, neutrals, track rescale factors); towers and neutrals are dicts with
    ``ev, e, eta, phi``.
    """
    grid = _Grid(calo)
    frac = calo.fraction_of(abs_pid)
    dep = frac > 1e-9
    cell_p = grid.cell(eta_c[dep], phi_c[dep])
    okp = cell_p >= 0
    key_p = ev[dep][okp] * grid.n_cells + cell_p[okp]
    e_p = (energy * frac)[dep][okp]

    n_trk = len(trk["ev"])
    tfrac = calo.fraction_of(trk["abs_pid"])
    tsel = np.flatnonzero(tfrac > 1e-9)
    cell_t = grid.cell(trk["eta_c"][tsel], trk["phi_c"][tsel])
    okt = cell_t >= 0
    tsel = tsel[okt]
    key_t = trk["ev"][tsel] * grid.n_cells + cell_t[okt]

    keys, inv = np.unique(np.concatenate([key_p, key_t]), return_inverse=True)
    inv_p, inv_t = inv[: len(key_p)], inv[len(key_p) :]
    n_tow = len(keys)
    cell = keys % grid.n_cells
    eta_lo, eta_hi, phi_lo, phi_hi = grid.bounds(cell)
    abs_eta_centre = np.abs(0.5 * (eta_lo + eta_hi))

    e_true = np.bincount(inv_p, weights=e_p, minlength=n_tow)
    z = rng.standard_normal(n_tow)
    e_meas = _lognormal(e_true, _calo_sigma(calo.resolution, abs_eta_centre, e_true), z)
    sigma = _calo_sigma(calo.resolution, abs_eta_centre, e_meas)
    e_meas[(e_meas < calo.energy_min) | (e_meas < calo.significance_min * sigma)] = 0.0

    u_eta, u_phi = rng.random(n_tow), rng.random(n_tow)
    if calo.smear_position:
        eta_t = eta_lo + u_eta * (eta_hi - eta_lo)
        phi_t = phi_lo + u_phi * (phi_hi - phi_lo)
    else:
        eta_t = 0.5 * (eta_lo + eta_hi)
        phi_t = 0.5 * (phi_lo + phi_hi)
    ev_t = keys // grid.n_cells
    towers = {"ev": ev_t, "e": e_meas, "eta": eta_t, "phi": phi_t}

    # particle flow: neutral excess over the matched tracks
    t_e = trk["e"][tsel] * tfrac[tsel]
    t_res = trk["res"][tsel]
    s_calo_t = _calo_sigma(calo.resolution, abs_eta_centre[inv_t], trk["e"][tsel])
    guess = np.where(s_calo_t / trk["e"][tsel] < t_res, t_e, trk["e"][tsel])
    e_trk = np.bincount(inv_t, weights=t_e, minlength=n_tow)
    var_trk = np.bincount(inv_t, weights=(t_res * guess) ** 2, minlength=n_tow)
    neutral = np.maximum(e_meas - e_trk, 0.0)
    denom = np.sqrt(var_trk + sigma**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        signif = np.where(denom > 0, neutral / denom, np.inf)
        make = (neutral > calo.energy_min) & (signif > calo.significance_min)
        w_t = np.where(var_trk > 0, 1.0 / var_trk, 0.0)
        w_c = np.where(sigma > 0, 1.0 / sigma**2, 0.0)
        best = (w_t * e_trk + w_c * e_meas) / (w_t + w_c)
        scale = np.where(~make & (e_trk > 0) & (w_t + w_c > 0), best / e_trk, 1.0)
    factors = np.ones(n_trk)
    factors[tsel] = scale[inv_t]
    neutrals = {"ev": ev_t[make], "e": neutral[make], "eta": eta_t[make], "phi": phi_t[make]}
    return towers, neutrals, factors


def _check_truth(truth: ak.Array) -> None:
    fields = ak.fields(truth)
    missing = [f for f in TRUTH_FIELDS if f not in fields]
    if missing:
        raise InputError(
            f"detector response needs truth-level particles with fields {', '.join(TRUTH_FIELDS)}"
            f"; missing: {', '.join(missing)} (LHCO-format files carry no pid/charge)"
        )


def apply_detector(truth: ak.Array, card: DetectorCard, seed: int) -> ak.Array:
    """Detector-level, massless particle-flow objects from truth-level particles.

    Parameters
    ----------
    truth : ak.Array
        ``events * var * {pt, eta, phi, mass, pid, charge}``: visible final-state particles
        (GeV, rad; ``pid`` PDG id, ``charge`` in units of e). Neutrinos should be removed
        beforehand (they would be ignored by the calorimeters anyway unless the card gives
        them an energy fraction).
    card : DetectorCard
        Detector parameters (:func:`adsearch.detector.load_card`).
    seed : int
        Seed of the response's random numbers; the same truth, card and seed give the
        same output.

    Returns
    -------
    ak.Array
        ``events * var * {pt, eta, phi, mass}`` float64, mass = 0; per event tracks, then
        ECAL neutral objects, then HCAL neutral objects (LHCO rows are unsorted too).

    Examples
    --------
    >>> import awkward as ak
    >>> from adsearch.detector import load_card
    >>> photons = ak.Array([[
    ...     {"pt": 40.0, "eta": 0.300, "phi": 1.000, "mass": 0.0, "pid": 22, "charge": 0.0},
    ...     {"pt": 30.0, "eta": 0.301, "phi": 1.001, "mass": 0.0, "pid": 22, "charge": 0.0}]])
    >>> out = apply_detector(photons, load_card("lhco"), seed=1)
    >>> len(out[0]), round(float(out[0].pt[0]) / 70.0, 1)   # one merged ECAL object
    (1, 1.0)
    """
    _check_truth(truth)
    card.validate()  # also cards built or edited in Python
    n_events = len(truth)
    counts = ak.to_numpy(ak.num(truth, axis=1)).astype(np.int64)
    flat = ak.flatten(truth, axis=1)
    pt = np.asarray(ak.to_numpy(flat.pt), dtype=np.float64)
    eta = np.asarray(ak.to_numpy(flat.eta), dtype=np.float64)
    phi = np.asarray(ak.to_numpy(flat.phi), dtype=np.float64)
    mass = np.asarray(ak.to_numpy(flat.mass), dtype=np.float64)
    pid = np.asarray(ak.to_numpy(flat.pid)).astype(np.int64)
    charge = np.asarray(ak.to_numpy(flat.charge), dtype=np.float64)
    for name, arr in (("pt", pt), ("eta", eta), ("phi", phi), ("mass", mass), ("charge", charge)):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"truth particles: non-finite values in field {name!r}")
    ev = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    rng = np.random.default_rng(seed)
    n = len(pt)

    abs_pid = np.abs(pid)
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
    eta_c, phi_c = _entry_point(pt, eta, phi, charge, card)

    # ---- tracks
    tr = card.tracking
    # Delphes 3.4.1 (Efficiency, MomentumSmearing) evaluates the tracker acceptance at the
    # calorimeter entry point: low-pT loopers leaving through the endcap are not tracked.
    abs_eta = np.abs(eta_c) if tr.at_entry_point else np.abs(eta)
    u = rng.random(n)
    zt = rng.standard_normal(n)
    cand = (np.abs(charge) > 1e-9) & (abs_eta < tr.eta_max) & (pt > tr.pt_min)
    eff = np.zeros(n)
    reg = np.searchsorted([r.eta_max for r in tr.efficiency], abs_eta, side="left")
    for i, r in enumerate(tr.efficiency):  # the card's few regions
        sel = cand & (reg == i)
        k = np.searchsorted(r.pt_edges, pt[sel], side="left") - 1
        table = np.asarray(r.efficiency)
        eff[sel] = np.where(k >= 0, table[np.clip(k, 0, len(table) - 1)], 0.0)
    res = np.zeros(n)
    reg = np.searchsorted([r.eta_max for r in tr.resolution], abs_eta, side="left")
    for i, rr in enumerate(tr.resolution):
        sel = cand & (reg == i)
        res[sel] = np.sqrt(rr.constant**2 + (rr.slope * pt[sel]) ** 2)
    res = np.minimum(res, 1.0)
    ecal_edges = card.ecal.cells()[0]
    # Delphes drops tracks whose entry point misses the (first) calorimeter
    in_calo = (eta_c > ecal_edges[0]) & (eta_c <= ecal_edges[-1])
    is_trk = cand & (u < eff) & in_calo if card.eflow else np.zeros(n, dtype=bool)
    it = np.flatnonzero(is_trk)
    pt_trk = _lognormal(pt[it], res[it] * pt[it], zt[it])
    trk = {
        "ev": ev[it],
        "abs_pid": abs_pid[it],
        "eta_c": eta_c[it],
        "phi_c": phi_c[it],
        "e": pt_trk * np.cosh(eta[it]),
        "res": res[it],
    }

    # ---- calorimeters (ECAL first, then HCAL, as Delphes)
    tow_e, neu_e, f_e = _calorimeter(card.ecal, ev, energy, eta_c, phi_c, abs_pid, trk, rng)
    tow_h, neu_h, f_h = _calorimeter(card.hcal, ev, energy, eta_c, phi_c, abs_pid, trk, rng)

    if card.eflow:
        parts = [
            (trk["ev"], pt_trk * f_e * f_h, eta[it], phi[it]),
            *[(d["ev"], d["e"] / np.cosh(d["eta"]), d["eta"], d["phi"]) for d in (neu_e, neu_h)],
        ]
    else:
        parts = [
            (
                d["ev"][d["e"] > 0],
                (d["e"] / np.cosh(d["eta"]))[d["e"] > 0],
                d["eta"][d["e"] > 0],
                d["phi"][d["e"] > 0],
            )
            for d in (tow_e, tow_h)
        ]
    o_ev = np.concatenate([p[0] for p in parts])
    order = np.argsort(o_ev, kind="stable")
    cols = [np.concatenate([p[j] for p in parts])[order] for j in (1, 2, 3)]
    n_out = np.bincount(o_ev, minlength=n_events)
    flat_out = ak.zip({"pt": cols[0], "eta": cols[1], "phi": cols[2], "mass": np.zeros(len(o_ev))})
    return ak.unflatten(flat_out, n_out)

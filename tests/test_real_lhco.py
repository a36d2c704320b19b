"""Real LHCO data (tests/data/lhco_real): our reader + jets reproduce the reference statistics.

The reference medians (docs/guide/data.md, fidelity against real LHCO) were measured with
fastjet + fastjet-contrib Nsubjettiness (OnePass_KT_Axes, beta = 1) on this file; the rows
are (QCD, W' signal).
"""

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from adsearch.io import read_lhco
from adsearch.jets import compute_features

REAL = Path(__file__).parent / "data" / "lhco_real" / "events_anomalydetection_tiny.h5"

REFERENCE = {
    "objects": (166, 130),
    "n_const_light": (39, 31),
    "n_const_heavy": (65, 59),
    "m_light": (103, 109),
    "m_heavy": (227, 497),
    "tau21_light": (0.60, 0.37),
    "tau21_heavy": (0.52, 0.21),
    "tau32_light": (0.75, 0.64),
    "tau32_heavy": (0.73, 0.65),
    "mjj": (3039, 3466),
    "pt_lead": (1354, 1633),
}


@pytest.fixture(scope="module")
def real():
    ev = read_lhco(REAL)
    return ev, compute_features(ev)


def test_reader_matches_pandas_on_real_file(real):
    ev, _ = real
    df = pd.read_hdf(REAL, "df")
    assert df.shape == (1000, 2101) and len(ev) == 1000
    assert int(ev.labels.sum()) == int(df[2100].sum()) == 93
    vals = df.to_numpy()[:, :2100].reshape(1000, 700, 3)
    keep = vals[:, :, 0] > 0
    np.testing.assert_array_equal(ak.num(ev.particles).to_numpy(), keep.sum(axis=1))
    np.testing.assert_array_equal(ak.flatten(ev.particles.pt).to_numpy(), vals[:, :, 0][keep])
    np.testing.assert_array_equal(ak.flatten(ev.particles.phi).to_numpy(), vals[:, :, 2][keep])


def _medians(ev, f, cls):
    tb = f.table
    m = tb["label"] == cls
    heavy1 = tb["mj1"][m] >= tb["mj2"][m]

    def by_mass(a1, a2):
        return np.where(heavy1, a2, a1), np.where(heavy1, a1, a2)  # (light, heavy)

    nc = ak.num(f.constituents, axis=2).to_numpy()[m]
    out = {"objects": np.median(ak.num(ev.particles).to_numpy()[ev.labels == cls])}
    out["n_const_light"], out["n_const_heavy"] = map(np.median, by_mass(nc[:, 0], nc[:, 1]))
    for q in ("m", "tau21", "tau32"):
        a1 = tb["mj1" if q == "m" else f"{q}j1"][m]
        a2 = tb["mj2" if q == "m" else f"{q}j2"][m]
        out[f"{q}_light"], out[f"{q}_heavy"] = map(np.median, by_mass(a1, a2))
    out["mjj"] = np.median(tb["mjj"][m])
    out["pt_lead"] = np.median(tb["ptj1"][m])
    return out


@pytest.mark.parametrize("cls", [0, 1], ids=["qcd", "signal"])
def test_jet_statistics_match_reference(real, cls):
    ev, f = real
    got = _medians(ev, f, cls)
    for key, ref in REFERENCE.items():
        tol = 0.006 if isinstance(ref[cls], float) else 0.006 * ref[cls] + 0.5
        assert got[key] == pytest.approx(ref[cls], abs=tol), key

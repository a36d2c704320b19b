import awkward as ak
import numpy as np

from adsearch.jets import cluster


def test_two_back_to_back_jets_sorted_and_massless_sum():
    ev = ak.Array(
        [
            [
                {"pt": 50.0, "eta": 0.0, "phi": 3.0},
                {"pt": 100.0, "eta": 0.1, "phi": 0.0},
                {"pt": 60.0, "eta": -0.1, "phi": 0.2},
            ]
        ]
    )
    c = cluster(ev, r=1.0, min_pt=10.0)
    pt = c.jets.pt[0].to_numpy()
    assert np.all(np.diff(pt) <= 0)
    assert ak.num(c.constituents, axis=2).tolist() == [[2, 1]]
    # constituents sorted by pT inside the jet
    assert c.constituents.pt[0, 0].tolist() == [100.0, 60.0]
    # two massless particles at an opening angle have a positive invariant mass
    assert float(c.jets.mass[0, 0]) > 0 and abs(float(c.jets.mass[0, 1])) < 1e-6

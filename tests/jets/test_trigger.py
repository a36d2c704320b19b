"""The LHCO jet trigger on hand-made events."""

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import ConfigError
from adsearch.jets.trigger import TriggerConfig, passes_trigger


def _event(*particles):
    return [{"pt": pt, "eta": eta, "phi": phi, "mass": 0.0} for pt, eta, phi in particles]


EVENTS = ak.Array(
    [
        _event((1300.0, 0.0, 0.0), (100.0, 0.3, 3.0)),  # one hard central jet: pass
        _event((1300.0, 2.8, 0.0)),  # hard but forward: fail
        _event((700.0, 1.0, 1.0), (600.0, 1.3, 1.4)),  # two particles -> one 1.3 TeV jet
        _event((700.0, 0.0, 0.0), (600.0, 1.5, 0.0)),  # too far apart for R = 1.0: fail
        _event((1100.0, 0.0, 0.0)),  # below threshold: fail
        _event(),  # empty event: fail
    ]
)


def test_lhco_trigger_decisions():
    np.testing.assert_array_equal(
        passes_trigger(EVENTS, TriggerConfig()), [True, False, True, False, False, False]
    )


def test_trigger_settings():
    assert passes_trigger(EVENTS, TriggerConfig(eta_max=3.0))[1]
    assert passes_trigger(EVENTS, TriggerConfig(pt_min=1000.0))[4]
    assert passes_trigger(EVENTS, TriggerConfig(r=2.0))[3]  # dR = 1.5: one jet now
    assert passes_trigger(EVENTS, TriggerConfig(enabled=False)).all()
    two = TriggerConfig(pt_min=500.0, min_jets=2)
    np.testing.assert_array_equal(passes_trigger(EVENTS, two), [0, 0, 0, 1, 0, 0])
    assert passes_trigger(EVENTS[:0], TriggerConfig()).shape == (0,)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"r": 0.0}, "r must"), ({"pt_min": -1.0}, "pt_min"), ({"min_jets": 0}, "min_jets")],
)
def test_bad_trigger(kw, match):
    with pytest.raises(ConfigError, match=match):
        TriggerConfig(**kw).validate()

"""CWoLa hunting over mass hypotheses (adsearch.stats.hunt): the significance formula, the
window layout, a planted resonance found in its window and nowhere else, no excess without it."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats

from adsearch.errors import ConfigError, InputError
from adsearch.stats.binning import log_bins
from adsearch.stats.hunt import HuntConfig, cwola_hunt, hypotheses, significance
from adsearch.weak import ClassifierConfig, WeakConfig, planted_toy

FAST = WeakConfig(
    method="cwola",
    n_folds=3,
    threads=1,
    classifier=ClassifierConfig(kind="hgb", n_members=1, hgb_max_iter=100),
)
#: three windows of two 5 % bins, 3088-3406, 3406-3757 (the toy's W' at 3500 ± 70), 3757-4144
SCAN = HuntConfig(mjj_range=(2800.0, 4800.0), step_bins=2, efficiencies=(0.1, 0.02))


def test_significance_without_uncertainty_is_the_poisson_likelihood_ratio():
    n, b = 130.0, 100.0
    assert significance(n, b, 0.0) == pytest.approx(np.sqrt(2 * (n * np.log(n / b) - n + b)))
    assert significance(100.0, 100.0, 5.0) == pytest.approx(0.0, abs=1e-9)
    assert significance(70.0, 100.0, 0.0) < 0  # a deficit is negative


def test_significance_falls_with_the_background_uncertainty():
    z = [significance(150.0, 100.0, s) for s in (0.0, 1e-3, 5.0, 20.0, 100.0)]
    assert z[0] == pytest.approx(z[1], rel=1e-4)
    assert all(a > b for a, b in itertools.pairwise(z))
    # large counts: the Gaussian limit (n - b) / sqrt(b + sigma^2)
    assert significance(10400.0, 10000.0, 50.0) == pytest.approx(400 / np.sqrt(12500), rel=0.02)


def test_significance_matches_poisson_tail_for_a_known_background():
    # Z from the likelihood ratio is close to the exact Poisson tail at large counts
    n, b = 1100.0, 1000.0
    exact = stats.norm.isf(stats.poisson.sf(n - 1, b))
    assert significance(n, b, 0.0) == pytest.approx(exact, abs=0.05)


def test_hypotheses_leave_sidebands_inside_the_spectrum():
    edges = log_bins(2800.0, 6000.0, 0.05)
    cfg = HuntConfig(window_bins=2, step_bins=1, sideband_bins=2)
    hyps = hypotheses(edges, cfg)
    n = len(edges) - 1
    assert hyps[0] == (2, 4) and hyps[-1] == (n - 4, n - 2)
    assert all(i1 - i0 == 2 and i0 >= 2 and i1 + 2 <= n for i0, i1 in hyps)
    assert [h[0] for h in hyps] == list(range(2, n - 3))


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="hunt:efficiencies"):
        HuntConfig(efficiencies=(0.1, 1.5))
    with pytest.raises(ConfigError, match="hunt:window_bins"):
        HuntConfig(window_bins=0)
    with pytest.raises(ConfigError, match="hunt:npar"):
        HuntConfig(npar=7)


def test_a_range_too_short_for_a_window_is_a_clear_error():
    toy = planted_toy(2000, 0, seed=0)
    with pytest.raises(InputError, match="cannot hold a window"):
        cwola_hunt(toy.x, toy.mjj, FAST, HuntConfig(mjj_range=(3000.0, 3300.0)))


@pytest.fixture(scope="module")
def planted_hunt():
    toy = planted_toy(n_background=20000, n_signal=300, seed=0)
    return cwola_hunt(toy.x, toy.mjj, FAST, SCAN)


def test_the_planted_resonance_is_found_in_its_window_only(planted_hunt):
    rows = planted_hunt.rows
    assert [r["window"][0] for r in rows] == pytest.approx([3088.3, 3405.9, 3756.4], abs=1)
    z = {e: [r["cuts"][e]["z_local"] for r in rows] for e in ("0.1", "0.02")}
    # the W' (3500 ± 70 GeV, S/B ≈ 7 % in 3406-3757) stands out after the tight cut
    assert z["0.02"][1] > 5
    assert abs(z["0.02"][0]) < 3 and abs(z["0.02"][2]) < 3
    best = planted_hunt.best(0.02)
    assert best["window"] == rows[1]["window"] and best["z_global_sidak"] > 4
    # without a cut the window holds ~ the fit's prediction: the excess comes from the classifier
    assert z["0.02"][1] > z["0.1"][1] > 0


def test_hunt_outputs_are_json_and_markdown(planted_hunt, tmp_path):
    paths = planted_hunt.write(tmp_path)
    d = json.loads(paths["json"].read_text())
    assert len(d["hypotheses"]) == 3 and d["n_independent_windows"] == pytest.approx(3.0)
    assert d["best"][1]["efficiency"] == 0.02
    assert "3406–3757" in paths["md"].read_text()
    assert planted_hunt.scores.shape == (3, 20300)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hunt.json", "hunt.md"]


def test_background_only_gives_no_excess_and_a_blind_classifier():
    toy = planted_toy(n_background=20000, n_signal=0, seed=3)
    res = cwola_hunt(toy.x, toy.mjj, FAST, SCAN)
    for r in res.rows:
        assert abs(r["auc_sr_vs_sb"] - 0.5) < 0.03
        for c in r["cuts"].values():
            assert abs(c["z_local"]) < 3
            assert c["expected_error"] > 0
    assert res.best(0.1)["p_global_sidak"] > 0.01

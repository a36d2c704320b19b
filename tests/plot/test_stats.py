import matplotlib
import numpy as np
import pytest

from adsearch.plot import plot_brazil, plot_bumphunt, plot_fit, plot_tstat
from adsearch.stats.binning import Histogram, log_bins
from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt
from adsearch.stats.fit import BinnedModel, FitConfig, fit_background, gaussian_template
from adsearch.stats.limits import LimitResult, MassLimit

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def results():
    edges = log_bins(2500.0, 6000.0, 0.05)
    m = BinnedModel(edges, "dijet", 3)
    rng = np.random.default_rng(0)
    n = rng.poisson(
        m.expected(m.theta_from_params([2e3, 10.0, -5.0]))
        + 300 * gaussian_template(edges, 3500.0, 175.0)
    )
    fit = fit_background(Histogram(edges, n.astype(float)), FitConfig(npar=3, blind=(3200, 3800)))
    bh = bumphunt(fit, BumpHunterConfig(n_toys=200))
    lim = LimitResult(
        [
            MassLimit(3000.0 + 500 * i, 1.0 + 0.1 * i, [0.5, 0.7, 1.0, 1.4, 1.9], 100.0)
            for i in range(3)
        ],
        0.95,
        0.05,
        "gaussian",
    )
    return fit, bh, lim


def test_plots_written_without_global_state(results, tmp_path):
    fit, bh, lim = results
    rc_before = dict(matplotlib.rcParams)
    paths = [
        plot_fit(fit, tmp_path / "fit.png", bump=bh, title="toy"),
        plot_bumphunt(bh, tmp_path / "bh.png"),
        plot_tstat(bh, tmp_path / "t.png"),
        plot_brazil(lim, tmp_path / "brazil.png"),
        plot_brazil(lim, tmp_path / "brazil_mu.pdf", events=False),
    ]
    for p in paths[:4]:
        assert p.read_bytes()[:4] == PNG and p.stat().st_size > 5000
    assert paths[4].read_bytes()[:4] == b"%PDF"
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert dict(matplotlib.rcParams) == rc_before  # style applied only inside the calls
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []

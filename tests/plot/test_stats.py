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


def _inside(inner, outer, tol=1.0):
    return (
        inner.x0 >= outer.x0 - tol
        and inner.y0 >= outer.y0 - tol
        and inner.x1 <= outer.x1 + tol
        and inner.y1 <= outer.y1 + tol
    )


def test_brazil_labels_inside_the_figure(results):
    from adsearch.plot.stats import _style, brazil_figure

    lim = LimitResult(
        [
            MassLimit(3100.0 + 100 * i, 1.0, [0.5, 0.7, 1.0, 1.4, 1.9], 300.0)
            for i in range(24)  # a scan every 100 GeV
        ],
        0.95,
        0.05,
        "gaussian",
    )
    for events in (True, False):
        with _style():
            fig, ax = brazil_figure(lim, events)
            fig.canvas.draw()
            r = fig.canvas.get_renderer()
            for label in (ax.yaxis.label, ax.xaxis.label):
                assert _inside(label.get_window_extent(r), fig.bbox), label.get_text()


def test_bumphunt_note_does_not_cover_data(results):
    from adsearch.plot.stats import _style, bumphunt_figure

    _, bh, _ = results
    with _style():
        fig, (ax, _), note = bumphunt_figure(bh, title="toy")
        fig.canvas.draw()
        box = note.get_window_extent(fig.canvas.get_renderer())
        centres = 0.5 * (bh.edges[1:] + bh.edges[:-1])
        pts = ax.transData.transform(np.column_stack([centres, np.maximum(bh.counts, 1e-3)]))
        inside = (
            (pts[:, 0] >= box.x0)
            & (pts[:, 0] <= box.x1)
            & (pts[:, 1] >= box.y0)
            & (pts[:, 1] <= box.y1)
        )
        assert not inside.any()
        assert "local Z" in note.get_text() and _inside(box, fig.bbox)
        # above the axes: no data point can ever be under it
        assert box.y0 >= ax.get_window_extent().y1

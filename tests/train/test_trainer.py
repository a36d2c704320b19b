import csv
import json

import numpy as np
import pytest
import torch
import yaml

from adsearch.cli import main
from adsearch.config import from_dict
from adsearch.errors import ConfigError, InputError
from adsearch.jets.featurefile import write_features
from adsearch.train import TrainConfig, load_model, load_train_config, train
from tests.train.toys import toy_features, toy_sample


def cfg_dict(out_dir, **over):
    d = {
        "data": {"train_fraction": 0.5, "val_fraction": 0.2},
        "model": {
            "backbone": "transformer",
            "objective": "deepsvdd",
            "width": 8,
            "heads": 2,
            "layers": 1,
            "mlp_layers": 2,
        },
        "optim": {"batch_size": 32, "epochs": 2, "patience": 10},
        "runtime": {"out_dir": str(out_dir), "device": "cpu", "progress": False},
    }
    for sec, vals in over.items():
        d[sec].update(vals)
    return d


def make(out_dir, **over):
    return from_dict(TrainConfig, cfg_dict(out_dir, **over))


@pytest.fixture(scope="module")
def sample():
    return toy_sample(120, signal_fraction=0.2, seed=5)


def test_same_seed_same_losses_bit_for_bit(tmp_path, sample):
    a = train(make(tmp_path / "a"), sample).history
    b = train(make(tmp_path / "b"), sample).history
    assert [h["train_loss"] for h in a] == [h["train_loss"] for h in b]
    assert [h["val_loss"] for h in a] == [h["val_loss"] for h in b]
    c = train(make(tmp_path / "c", runtime={"seed": 1}), sample).history
    assert [h["train_loss"] for h in c] != [h["train_loss"] for h in a]


@pytest.mark.parametrize("objective", ["deepsvdd-soft", "deepsvdd-ae", "supervised"])
def test_resume_gives_the_uninterrupted_next_epoch(tmp_path, sample, objective):
    over = {"model": {"objective": objective}}
    if objective == "deepsvdd-soft":  # with random (seeded) mass augmentation
        over["data"] = {"augment": {"kind": "random-mass"}}
    full = train(make(tmp_path / "full", optim={"epochs": 3}, **over), sample).history
    train(make(tmp_path / "part", optim={"epochs": 2}, **over), sample)
    resumed = train(make(tmp_path / "part", optim={"epochs": 3}, **over), sample, resume=True)
    assert len(resumed.history) == 3
    assert resumed.history[2]["train_loss"] == full[2]["train_loss"]
    assert resumed.history[2]["val_loss"] == full[2]["val_loss"]
    # the resumed run's files hold all three epochs
    rows = list(csv.DictReader((tmp_path / "part" / "metrics.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]


def test_resume_refuses_a_different_config(tmp_path, sample):
    train(make(tmp_path), sample)
    with pytest.raises(ConfigError, match="differs"):
        train(make(tmp_path, optim={"lr": 0.5}), sample, resume=True)
    with pytest.raises(InputError, match="no checkpoint"):
        train(make(tmp_path / "none"), sample, resume=True)


def test_outputs_metrics_and_model_roundtrip(tmp_path, sample):
    res = train(make(tmp_path, optim={"epochs": 2}), sample)
    for f in ("checkpoint.pt", "model.pt", "metrics.csv", "metrics.json", "config.yaml"):
        assert (tmp_path / f).is_file(), f
    hist = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    for key in ("train_loss", "val_loss", "epoch_time_s", "train_jets_per_s"):
        assert all(np.isfinite(h[key]) and h[key] > 0 for h in hist), key
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["width"] == 8
    model, cfg = load_model(tmp_path)
    assert cfg.model.width == 8 and not model.training
    # model.pt holds the best-validation weights
    best = int(np.argmin([h["val_loss"] for h in hist]))
    assert res.best_epoch == best + 1
    assert torch.equal(model.objective.c, res.model.objective.c)


def test_early_stopping(tmp_path, sample):
    # lr = 0 never improves the validation loss after the first epoch
    res = train(make(tmp_path, optim={"epochs": 10, "patience": 2, "lr": 1e-12}), sample)
    assert res.stopped_early and len(res.history) == 3 and res.best_epoch == 1


def test_training_sets_per_mode(tmp_path, sample):
    from adsearch.train.data import split_events, training_jets

    split = split_events(sample.n_events, 0.5, 0.2, seed=0)
    bkg = training_jets(sample, split, 0, "background-only", "deepsvdd")
    mix = training_jets(sample, split, 0, "data-like", "deepsvdd")
    sup = training_jets(sample, split, 0, "background-only", "supervised")
    assert np.all(sample.label[bkg] == 0)
    assert (sample.label[mix] == 1).any() and set(bkg) < set(mix)
    assert set(sup) == set(mix)
    # per-event split: both jets of an event always together
    for idx in (bkg, mix):
        ev, cnt = np.unique(sample.event[idx], return_counts=True)
        assert np.all(cnt == 2) and np.all(split[ev] == 0)
    assert split_events(1000, 0.2, 0.01, seed=3).tolist().count(0) == 200
    # data-like mode works on unlabelled data; background-only refuses it
    unl = toy_sample(60, seed=1)
    unl.label[:] = -1
    assert len(train(make(tmp_path / "dl", data={"mode": "data-like"}), unl).history) == 2
    with pytest.raises(InputError, match="data-like"):
        train(make(tmp_path / "bo"), unl)
    with pytest.raises(ConfigError, match="supervised"):
        make(tmp_path, data={"mode": "data-like"}, model={"objective": "supervised"})


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="bias"):
        make(tmp_path, model={"bias": True})
    with pytest.raises(ConfigError, match="transformer backbone"):
        make(tmp_path, model={"backbone": "gin", "objective": "ae"})
    with pytest.raises(ConfigError, match="unknown key 'widht'"):
        make(tmp_path, model={"widht": 3})
    with pytest.raises(ConfigError, match="train_fraction"):
        make(tmp_path, data={"train_fraction": 1.5})


def test_cli_train_score_from_a_features_file(tmp_path):
    feats = toy_features(80, signal_fraction=0.25, seed=9)
    fpath = write_features(tmp_path / "toy.parquet", feats)
    d = cfg_dict("run", data={"path": "toy.parquet"})
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(d))
    assert main(["train", str(tmp_path / "train.yaml"), "--epochs", "1"]) == 0
    cfg = load_train_config(tmp_path / "train.yaml")
    assert cfg.data.path == str(tmp_path / "toy.parquet")
    assert (tmp_path / "run" / "model.pt").is_file()
    out = tmp_path / "scores.parquet"
    assert main(["score", str(tmp_path / "run"), str(fpath), "-o", str(out)]) == 0
    import pyarrow.parquet as pq

    t = pq.read_table(out).to_pydict()
    n = len(feats)
    for c in ("mjj", "label", "score_j1", "score_j2", "score", "score_max", "score_min"):
        assert len(t[c]) == n, c
    s1, s2 = np.array(t["score_j1"]), np.array(t["score_j2"])
    np.testing.assert_allclose(t["score"], 0.5 * (s1 + s2))
    np.testing.assert_allclose(t["score_max"], np.maximum(s1, s2))
    np.testing.assert_allclose(t["score_min"], np.minimum(s1, s2))
    # the training file's split is reproduced: 50 % train, 20 % val, rest test
    split = np.array(t["split"])
    assert (split == 0).sum() == 40 and (split == 1).sum() == 16
    # bad inputs: one line, exit 1
    assert main(["score", str(tmp_path / "nope"), str(fpath)]) == 1
    assert main(["train", str(tmp_path / "missing.yaml")]) == 1


def test_autoencoder_constituent_cap_must_fit_the_decoder(tmp_path):
    with pytest.raises(ConfigError, match="max_constituents"):
        from_dict(
            TrainConfig,
            {"model": {"backbone": "part", "objective": "ae"}, "graph": {"max_constituents": None}},
        )
    ok = from_dict(TrainConfig, {"model": {"backbone": "part", "objective": "ae"}})
    assert ok.model.max_constituents >= 100


def test_mass_augmentation_in_the_input_builder(sample):
    from adsearch.graphs import jet_axis
    from adsearch.train.config import AugmentConfig
    from adsearch.train.data import InputBuilder

    idx = np.arange(10)
    rnd = InputBuilder("dense", {}, augment=AugmentConfig(kind="random-mass"))
    raw = InputBuilder("dense", {})
    x0, m0 = raw(sample, idx)
    xa, _ = rnd(sample, idx, np.random.default_rng(1))
    xb, _ = rnd(sample, idx, np.random.default_rng(1))
    xc, _ = rnd(sample, idx, np.random.default_rng(2))
    assert torch.equal(xa, xb) and not torch.equal(xa, xc)  # seeded, and varies
    assert torch.equal(rnd(sample, idx)[0], x0)  # no rng (validation, scoring): untouched
    # the angular offsets scale, the pT fractions do not (up to the recomputed jet pT)
    np.testing.assert_allclose(
        (xa[..., 0] / xa[..., 0].sum(1, keepdim=True))[m0],
        (x0[..., 0] / x0[..., 0].sum(1, keepdim=True))[m0],
        rtol=1e-5,
    )
    assert not torch.allclose(xa[..., 1:][m0], x0[..., 1:][m0])
    # to-mass: every jet at the reference mass, also without rng (so also when scoring)
    std = InputBuilder("pyg", {}, augment=AugmentConfig(kind="to-mass", mass=50.0))
    cons, *_ = std.jets(sample, idx)
    np.testing.assert_allclose(jet_axis(cons).mass, 50.0, rtol=1e-3)
    # standardise: every jet boosted to the reference pT, then at the reference mass
    std = InputBuilder("pyg", {}, augment=AugmentConfig(kind="standardise", pt=1500.0, mass=80.0))
    cons, *_ = std.jets(sample, idx)
    ax = jet_axis(cons)
    np.testing.assert_allclose(ax.mass, 80.0, rtol=1e-3)
    np.testing.assert_allclose(ax.pt, 1500.0, rtol=0.05)
    with pytest.raises(ConfigError, match="augment:pt"):
        from_dict(TrainConfig, {"data": {"augment": {"kind": "standardise", "pt": -1}}})
    with pytest.raises(ConfigError, match="augment"):
        from_dict(TrainConfig, {"data": {"augment": {"kind": "random-mass", "low": 2, "high": 1}}})


# ------------------------------------------------------------------ issue 12: scores that work


def test_input_norm_is_fitted_on_training_background_and_stored(tmp_path, sample):
    from adsearch.train.data import InputBuilder, split_events, training_jets

    over = {
        "model": {"backbone": "gin", "objective": "deepsvdd", "heads": None},
        "data": {"norm_jets": 10_000},
    }
    cfg = make(tmp_path / "n", **over)
    res = train(cfg, sample)
    norm = res.model.backbone.input_norm
    assert bool(norm.fitted) and norm.log_mask.tolist() == [True, False, False]
    split = split_events(sample.n_events, 0.5, 0.2, 0)
    tr = training_jets(sample, split, 0, "background-only", "deepsvdd")
    x = InputBuilder("pyg", {})(sample, tr).x.double()
    expect = torch.log(x[:, 0]).mean()
    assert abs(float(norm.shift[0]) - float(expect)) < 1e-5
    # ... and not on everything (signal jets and the test split change the mean)
    everything = torch.log(InputBuilder("pyg", {})(sample, np.arange(len(sample))).x[:, 0])
    assert abs(float(norm.shift[0]) - float(everything.double().mean())) > 1e-3
    # stored with the model: load_model restores the same buffers
    model, _ = load_model(tmp_path / "n")
    for k in ("shift", "scale", "log_mask"):
        assert torch.equal(getattr(model.backbone.input_norm, k), getattr(norm, k))


def test_deepsvdd_centre_is_the_training_mode_mean_embedding(tmp_path, sample):
    from adsearch.models.registry import build_model
    from adsearch.train.data import InputBuilder
    from adsearch.train.trainer import _init_center

    cfg = make(tmp_path / "c", model={"backbone": "gin", "objective": "deepsvdd", "heads": None})
    torch.manual_seed(0)
    model = build_model(cfg.model, in_dim=3, edge_dim=1)
    builder = InputBuilder("pyg", {})
    idx = np.arange(64)
    _init_center(model, builder, sample, idx, cfg, torch.device("cpu"), 1)
    with torch.no_grad():
        z = model.train().embed(builder(sample, idx)).double()
    mean = z.mean(0)
    rms = float(torch.sqrt((z * z).mean()))
    c = model.objective.c.double()
    free = mean.abs() >= model.objective.eps * rms  # coordinates the guard leaves alone
    assert free.any()
    torch.testing.assert_close(c[free], mean[free], atol=1e-6, rtol=1e-6)
    assert abs(float(model.objective.guard) - model.objective.eps * rms) < 1e-6
    assert bool((c.abs() >= float(model.objective.guard) - 1e-7).all())


def test_dasvdd_gamma_balances_error_and_distance_of_the_initial_pass(tmp_path, sample):
    """``deepsvdd-ae``: c is the training-mode mean embedding of the initial batches and
    gamma = mean reconstruction error / mean |z - c|² over the same jets (so both loss terms
    start equal)."""
    from adsearch.models.registry import build_model
    from adsearch.train.data import InputBuilder
    from adsearch.train.trainer import _init_center

    cfg = make(tmp_path / "g", model={"objective": "deepsvdd-ae", "mlp_layers": 2})
    cfg.graph["max_constituents"] = 64
    torch.manual_seed(0)
    model = build_model(cfg.model, in_dim=3)
    builder = InputBuilder("dense", {"max_constituents": 64})
    idx = np.arange(64)
    _init_center(model, builder, sample, idx, cfg, torch.device("cpu"), 1)
    obj = model.objective
    with torch.no_grad():
        inputs = builder(sample, idx)
        z = model.train().embed(inputs)
        err = obj.autoencoder.score(z, model.objective_inputs(inputs)).double()
        d = ((z.double() - obj.c.double()) ** 2).sum(-1)
    assert float(obj.gamma) == pytest.approx(float(err.mean() / d.mean()), rel=1e-5)
    # and the loss is that sum per jet: at the start the two terms contribute equally
    _loss, per = model(inputs, None, loss=True)
    torch.testing.assert_close(per.double(), err + float(obj.gamma) * d, rtol=1e-5, atol=1e-7)
    assert float((float(obj.gamma) * d).mean()) == pytest.approx(float(err.mean()), rel=1e-5)


class _Const(torch.nn.Module):
    """A 'network' whose every output is its bias: what DeepSVDD with biases collapses to."""

    input_kind = "pyg"

    def __init__(self, c):
        super().__init__()
        self.lin = torch.nn.Linear(3, len(c))
        torch.nn.init.zeros_(self.lin.weight)
        self.lin.bias.data.copy_(c)

    def forward(self, data):
        from torch_geometric.nn import global_mean_pool

        return global_mean_pool(self.lin(data.x), data.batch)


def test_collapse_monitor_flags_a_bias_or_constant_embedding(tmp_path, sample):
    from adsearch.errors import TrainingError
    from adsearch.models.objectives import DeepSVDD
    from adsearch.models.registry import AnomalyModel, build_model
    from adsearch.train.data import InputBuilder
    from adsearch.train.trainer import _collapse_check

    cfg = make(tmp_path / "k", model={"backbone": "gin", "objective": "deepsvdd", "heads": None})
    svdd = DeepSVDD(4)
    svdd.set_center(torch.tensor([0.5, -0.2, 0.3, 0.1]))
    collapsed = AnomalyModel(_Const(svdd.c.clone()), svdd, cfg.model)
    builder = InputBuilder("pyg", {})
    idx = np.arange(40)
    with pytest.raises(TrainingError, match="collapsed"):
        _collapse_check(collapsed, builder, sample, idx, 16, 1e-6, 3)
    assert svdd.collapse_stats(torch.ones(5, 4) * svdd.c)["spread"] == 0.0
    # a bias-free network without normalisation cannot: its jets stay apart
    torch.manual_seed(0)
    healthy = build_model(cfg.model, in_dim=3, edge_dim=1)
    healthy.objective.set_center(torch.full((8,), 0.1))
    stats = _collapse_check(healthy, builder, sample, idx, 16, 1e-6, 1)
    assert stats["spread"] > 1e-3 and stats["dist_cv"] > 0


def test_deepsvdd_metrics_log_the_collapse_monitor(tmp_path, sample):
    res = train(
        make(tmp_path / "m", model={"backbone": "gin", "objective": "deepsvdd", "heads": None}),
        sample,
    )
    for row in res.history:
        assert row["spread"] > 1e-6 and row["dist_mean"] > 0
    rows = list(csv.DictReader((tmp_path / "m" / "metrics.csv").read_text().splitlines()))
    assert "spread" in rows[0] and len(rows) == len(res.history)


def test_deepsvdd_refuses_normalisation_layers(tmp_path):
    with pytest.raises(ConfigError, match="normalisation"):
        make(tmp_path, model={"objective": "deepsvdd", "options": {"norm": "batch"}})


def test_principal_frame_in_the_input_builder(sample):
    from adsearch.train.data import InputBuilder

    idx = np.arange(10)
    plain = InputBuilder("dense", {})(sample, idx)
    framed = InputBuilder("dense", {"frame": "principal"})(sample, idx)
    # same constituents (pT fractions, padding), other coordinates
    torch.testing.assert_close(framed[0][..., 0], plain[0][..., 0])
    assert torch.equal(framed[1], plain[1])
    assert not torch.allclose(framed[0][..., 1:], plain[0][..., 1:])
    # the frame puts the pT-weighted spread along eta: <deta^2> >= <dphi^2> in every jet
    x, m = framed[0].double(), framed[1].double()
    w = x[..., 0] * m
    assert bool(((w * x[..., 1] ** 2).sum(1) >= (w * x[..., 2] ** 2).sum(1) - 1e-6).all())


def test_mahalanobis_metric_is_fitted_on_training_background_and_stored(tmp_path, sample):
    from adsearch.train.data import InputBuilder, split_events

    cfg = make(tmp_path / "w", model={"backbone": "gin", "objective": "deepsvdd", "heads": None})
    assert cfg.model.score_metric == "mahalanobis" and cfg.model.metric_shrinkage == 0.5
    res = train(cfg, sample)
    obj = res.model.objective
    assert not torch.allclose(obj.whiten, torch.eye(len(obj.whiten)))
    # the saved metric is that of the training background jets' embeddings
    split = split_events(sample.n_events, 0.5, 0.2, cfg.data.seed)
    tr = np.flatnonzero((split[sample.event] == 0) & (sample.label == 0))
    with torch.no_grad():
        z = res.model.eval().embed(InputBuilder("pyg", {})(sample, tr)).double()
    torch.testing.assert_close(obj.mu.double(), z.mean(0), atol=1e-4, rtol=1e-4)
    cov = torch.cov(z.T)
    shrunk = 0.5 * cov + 0.5 * torch.trace(cov) / len(cov) * torch.eye(len(cov), dtype=cov.dtype)
    w = obj.whiten.double()
    torch.testing.assert_close(
        w.T @ shrunk @ w, torch.eye(len(cov), dtype=cov.dtype), atol=1e-3, rtol=0
    )
    loaded, _ = load_model(tmp_path / "w")  # returned = saved (best epoch)
    torch.testing.assert_close(loaded.objective.whiten, obj.whiten)
    torch.testing.assert_close(loaded.objective.mu, obj.mu)


def test_euclidean_metric_keeps_the_distance_to_the_centre(tmp_path, sample):
    cfg = make(
        tmp_path / "e",
        model={
            "backbone": "gin",
            "objective": "deepsvdd",
            "heads": None,
            "svdd_metric": "euclidean",
        },
    )
    res = train(cfg, sample)
    z = torch.randn(5, 8)
    torch.testing.assert_close(res.model.objective.score(z, None), res.model.objective.distance(z))


def test_init_starts_deepsvdd_from_a_trained_autoencoders_backbone(tmp_path, sample):
    # Ruff et al.: a bias-free autoencoder first, its encoder then starts DeepSVDD
    ae = train(make(tmp_path / "ae", model={"objective": "ae", "bias": False}), sample).model
    frozen = {"optim": {"epochs": 1, "lr": 1e-12, "weight_decay": 0.0}}
    res = train(make(tmp_path / "svdd", model={"init": str(tmp_path / "ae")}, **frozen), sample)
    got, want = res.model.backbone.state_dict(), ae.backbone.state_dict()
    assert set(got) == set(want)
    for k in want:  # the weights and the fitted input standardisation, not refitted
        torch.testing.assert_close(got[k], want[k], atol=1e-8, rtol=0)
    plain = train(make(tmp_path / "plain", **frozen), sample).model.backbone.state_dict()
    assert any(not torch.allclose(plain[k], want[k]) for k in want if want[k].is_floating_point())
    # the saved model needs no init file to load
    (tmp_path / "ae" / "model.pt").unlink()
    model, cfg = load_model(tmp_path / "svdd")
    assert cfg.model.init == str(tmp_path / "ae")
    torch.testing.assert_close(model.objective.c, res.model.objective.c)


def test_init_refuses_a_different_backbone(tmp_path, sample):
    train(make(tmp_path / "biased", model={"objective": "ae"}), sample)  # bias on
    with pytest.raises(ConfigError, match=r"model:init: .*biased.*lacks: .*bias"):
        train(make(tmp_path / "a", model={"init": str(tmp_path / "biased")}), sample)
    train(make(tmp_path / "w16", model={"objective": "ae", "bias": False, "width": 16}), sample)
    with pytest.raises(ConfigError, match=r"model:init: .*w16.*of shape"):
        train(make(tmp_path / "b", model={"init": str(tmp_path / "w16")}), sample)
    with pytest.raises(InputError, match="nothing.*no such model file"):
        train(make(tmp_path / "c", model={"init": str(tmp_path / "nothing")}), sample)
    for bad in ("", " "):
        with pytest.raises(ConfigError, match="model:init"):
            make(tmp_path / "d", model={"init": bad})


def test_init_path_is_relative_to_the_config_file(tmp_path):
    d = cfg_dict("run", model={"init": "ae/model.pt"})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    assert load_train_config(tmp_path / "c.yaml").model.init == str(tmp_path / "ae/model.pt")


def test_init_mode_frozen_keeps_the_loaded_backbone(tmp_path, sample):
    ae = train(make(tmp_path / "ae", model={"objective": "ae", "bias": False}), sample).model
    over = {"init": str(tmp_path / "ae"), "init_mode": "frozen"}
    res = train(make(tmp_path / "svdd", model=over, optim={"epochs": 3}), sample)
    # nothing trains (DeepSVDD has no parameters of its own): one pass for the metrics
    assert len(res.history) == 1
    assert not any(p.requires_grad for p in res.model.backbone.parameters())
    for k, v in ae.backbone.state_dict().items():
        torch.testing.assert_close(res.model.backbone.state_dict()[k], v, atol=0, rtol=0)
    model, _ = load_model(tmp_path / "svdd")
    assert not model.train().backbone.training  # stays in eval mode
    # a supervised head on the frozen backbone trains (a linear probe), the backbone not
    sup = {**over, "objective": "supervised", "bias": False}
    probe = train(make(tmp_path / "sup", model=sup, optim={"epochs": 2}), sample).model
    assert len(train_hist := json.loads((tmp_path / "sup/metrics.json").read_text())) == 2
    assert train_hist[0]["train_loss"] != train_hist[1]["train_loss"]
    for k, v in ae.backbone.state_dict().items():
        torch.testing.assert_close(probe.backbone.state_dict()[k], v, atol=0, rtol=0)
    with pytest.raises(ConfigError, match="model:init_mode: needs model:init"):
        make(tmp_path / "x", model={"init_mode": "frozen"})

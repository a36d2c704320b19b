import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from adsearch.config import from_dict
from adsearch.graphs import to_dense, toy_jets
from adsearch.models import ModelConfig, build_model
from adsearch.models.objectives import (
    Autoencoder,
    AutoencodingSVDD,
    DeepSVDD,
    EmbeddingAutoencoder,
    Supervised,
)
from adsearch.models.setloss import chamfer_distance
from adsearch.models.transformer import TransformerBackbone
from adsearch.train import TrainConfig, train
from adsearch.train.data import InputBuilder, split_events
from tests.train.toys import toy_sample


def auc(scores_sig, scores_bkg) -> float:
    r = rankdata(np.concatenate([scores_sig, scores_bkg]))
    n1, n0 = len(scores_sig), len(scores_bkg)
    return float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def test_center_guard_pushes_small_coordinates_to_eps():
    svdd = DeepSVDD(4, eps=0.1)
    svdd.set_center(torch.tensor([0.5, 0.05, -0.02, 0.0]))
    assert svdd.c.tolist() == pytest.approx([0.5, 0.1, -0.1, 0.1])
    assert bool(svdd.center_set)
    z = torch.tensor([[0.5, 0.1, -0.1, 0.1], [1.5, 0.1, -0.1, 0.1]])
    assert svdd.score(z, None).tolist() == pytest.approx([0.0, 1.0])


def test_soft_boundary_radius_and_loss():
    svdd = DeepSVDD(1, soft=True, nu=0.25)
    d = torch.tensor([1.0, 4.0, 9.0, 16.0, 25.0])  # sqrt: 1..5
    svdd.update_radius(d)
    assert float(svdd.radius) == pytest.approx(float(np.quantile([1, 2, 3, 4, 5], 0.75)))
    svdd.set_center(torch.tensor([1.0]))
    z = torch.tensor([[1.0], [6.0]])  # distances 0 and 25; R = 4 -> R^2 = 16
    loss, _per = svdd.loss(z, None, None)
    assert float(loss) == pytest.approx(16.0 + (25.0 - 16.0) / 2 / 0.25)
    assert svdd.score(z, None).tolist() == pytest.approx([-16.0, 9.0])


def test_supervised_loss_weights_signal():
    sup = Supervised(2, pos_weight=3.0)
    torch.nn.init.zeros_(sup.head.bias)
    z = torch.zeros(2, 2)
    _loss, per = sup.loss(z, None, torch.tensor([1, 0]))
    # zero logits: -log(1/2) per jet, signal weighted x3
    assert per.tolist() == pytest.approx([3 * np.log(2), np.log(2)], rel=1e-6)
    assert sup.score(z, None).tolist() == [0.5, 0.5]
    with pytest.raises(ValueError):
        sup.loss(z, None, None)


def _cfg(tmp_path, backbone, objective, epochs, **optim):
    return from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.6, "val_fraction": 0.1},
            "model": {
                "backbone": backbone,
                "objective": objective,
                "width": 16,
                "heads": 2,
                "layers": 1,
                "mlp_layers": 2,
            },
            "optim": {"batch_size": 64, "epochs": epochs, "patience": 50, **optim},
            "runtime": {
                "out_dir": str(tmp_path / f"{backbone}-{objective}"),
                "device": "cpu",
                "progress": False,
            },
        },
    )


def _jet_scores(model, sample):
    b = InputBuilder(model.input_kind, {})
    with torch.no_grad():
        return model.eval()(b(sample, np.arange(len(sample)))).numpy()


@pytest.mark.parametrize("objective", ["deepsvdd", "deepsvdd-soft"])
def test_deepsvdd_loss_decreases_without_collapse(tmp_path, objective):
    sample = toy_sample(200, signal_fraction=0.3, seed=1)
    res = train(_cfg(tmp_path, "transformer", objective, 5), sample)
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.5 * losses[0]
    model = res.model
    assert bool(model.objective.center_set)
    assert (model.objective.c.abs() >= model.objective.guard - 1e-7).all()
    s = _jet_scores(model, sample)
    assert np.all(np.isfinite(s))
    # not collapsed: scores differ between jets by more than round-off
    assert np.std(s) > 1e-3 * (np.abs(np.mean(s)) + 1e-6)
    assert len(np.unique(np.round(s, 9))) > len(s) // 2
    if objective == "deepsvdd-soft":
        assert float(model.objective.radius) > 0
        assert "radius" in res.history[-1]


@pytest.mark.parametrize("backbone", ["transformer", "part"])
def test_supervised_separates_easy_toy(tmp_path, backbone):
    sample = toy_sample(300, signal_fraction=0.5, seed=2)
    res = train(_cfg(tmp_path, backbone, "supervised", 3, lr=3e-3), sample)
    split = split_events(sample.n_events, 0.6, 0.1, seed=0)  # the split train() used
    test = sample.take(np.flatnonzero(split[sample.event] == 2))
    s = _jet_scores(res.model, test)
    a = auc(s[test.label == 1], s[test.label == 0])
    assert a > 0.95, a


def test_autoencoder_trains(tmp_path):
    sample = toy_sample(120, signal_fraction=0.2, seed=3)
    res = train(_cfg(tmp_path, "part", "ae", 3), sample)
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    s = _jet_scores(res.model, sample)
    assert s.shape == (len(sample),) and np.all(s > 0)


def _dense_toy(n, n_prongs, seed, max_n=48):
    """Standardised dense toy jets: (log pT fraction, Δη / 0.23, Δφ / 0.23) and the mask."""
    x, mask = to_dense(toy_jets(n, seed, n_prongs=n_prongs, mean_constituents=20), max_n=max_n)
    x = torch.from_numpy(x)
    mask = torch.from_numpy(mask)
    xs = torch.stack(
        [torch.log(x[..., 0].clamp(min=1e-6)) + 4.0, x[..., 1] / 0.23, x[..., 2] / 0.23], -1
    )
    return xs * mask.unsqueeze(-1), mask, x[..., 0]


@pytest.mark.parametrize("latent", [2, 8])
def test_autoencoder_bottleneck_has_the_configured_size(latent):
    model = build_model(
        ModelConfig(
            backbone="transformer", objective="ae", width=16, heads=2, layers=1, latent_dim=latent
        )
    )
    ae = model.objective
    assert isinstance(ae, Autoencoder) and ae.latent_dim == latent
    assert ae.to_latent.in_features == 16 and ae.decoder.lift.in_features == latent
    x, mask, _ = _dense_toy(6, 1, seed=0)
    z = model.embed((x, mask))
    assert ae.to_latent(z).shape == (6, latent)
    with pytest.raises(ValueError, match="latent_dim"):
        Autoencoder(16, latent_dim=0)


def test_autoencoder_decoder_never_sees_the_input_features():
    torch.manual_seed(0)
    ae = Autoencoder(16, latent_dim=4, width=16, layers=1, heads=2, max_len=48).eval()
    x, mask, _ = _dense_toy(5, 2, seed=1)
    z = torch.randn(5, 16)
    with torch.no_grad():
        rec = ae.reconstruct(z, mask)
        s = ae.score(z, (x, mask))
        s_other = ae.score(z, (x + 1.0, mask))  # other targets, same latent and mask
        # one output point per real input constituent; the reconstruction ignores x
        assert rec.shape == x.shape
        torch.testing.assert_close(ae.reconstruct(z, mask), rec)
        assert not torch.allclose(s, s_other)
        torch.testing.assert_close(s, chamfer_distance(x, rec, mask, mask))


def test_autoencoder_score_invariant_to_constituent_order_unlike_slot_mse():
    torch.manual_seed(1)
    enc = TransformerBackbone(width=16, heads=2, layers=1).eval()
    x, mask, w = _dense_toy(5, 2, seed=2)
    # permute the real constituents of every jet among themselves (mask unchanged)
    g = torch.Generator().manual_seed(3)
    keys = torch.rand(mask.shape, generator=g).masked_fill(~mask, 2.0)
    perm = keys.argsort(1)
    xp = x.gather(1, perm.unsqueeze(-1).expand_as(x))
    wp = w.gather(1, perm)
    assert torch.equal(mask.gather(1, perm), mask) and not torch.equal(xp, x)
    for recon, invariant in (("chamfer", True), ("mse", False)):
        ae = Autoencoder(16, latent_dim=4, width=16, layers=1, heads=2, max_len=48, recon=recon)
        ae_w = Autoencoder(16, latent_dim=4, width=16, layers=1, heads=2, max_len=48, recon=recon)
        ae_w.load_state_dict(ae.state_dict())
        ae_w.pt_weighted = True
        with torch.no_grad():
            z, zp = enc((x, mask)), enc((xp, mask))
            s, sp = ae.eval().score(z, (x, mask)), ae.score(zp, (xp, mask))
            s_w, sp_w = ae_w.eval().score(z, (x, mask, w)), ae_w.score(zp, (xp, mask, wp))
            # without pt_weighted the weights are ignored
            torch.testing.assert_close(ae.score(z, (x, mask, w)), s)
        assert torch.allclose(sp, s, atol=1e-5) == invariant, recon
        assert torch.allclose(sp_w, s_w, atol=1e-5) == invariant, recon
        assert not torch.allclose(s_w, s)  # with pt_weighted the pT weights are used
        with pytest.raises(ValueError, match="pt_weighted"):
            ae_w.score(z, (x, mask))


def test_autoencoder_loss_decreases_on_toy_batch():
    torch.manual_seed(0)
    enc = TransformerBackbone(width=16, heads=2, layers=1)
    ae = Autoencoder(16, latent_dim=4, width=16, layers=1, heads=2, max_len=48)
    x, mask, _ = _dense_toy(64, 1, seed=4)
    opt = torch.optim.Adam([*enc.parameters(), *ae.parameters()], lr=3e-3)
    losses = []
    for _ in range(40):
        loss, per = ae.loss(enc((x, mask)), (x, mask), None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        assert per.shape == (64,) and not per.requires_grad
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])


def test_mahalanobis_score_is_chi2_on_the_background_it_was_fitted_on():
    gen = torch.Generator().manual_seed(0)
    a = torch.tensor([[3.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1e-3]])  # one squashed axis
    z = torch.randn(20000, 3, generator=gen) @ a + torch.tensor([5.0, -2.0, 1.0])
    svdd = DeepSVDD(3, metric="mahalanobis")
    svdd.set_center(torch.ones(3))
    svdd.fit_metric(z[:10000], shrinkage=0.0)
    s = svdd.score(z[10000:], None)
    assert abs(float(s.mean()) - 3.0) < 0.1  # chi2 with 3 degrees of freedom
    # an outlier along the squashed direction is far; the Euclidean distance hardly sees it
    out = z[10000:10001] + torch.tensor([0.0, 0.0, 0.01])
    assert float(svdd.score(out, None)) > 50.0
    assert abs(float(svdd.distance(out) - svdd.distance(z[10000:10001]))) < 0.1
    with pytest.raises(ValueError, match="metric"):
        DeepSVDD(3, metric="cosine")
    with pytest.raises(ValueError, match="Euclidean"):
        DeepSVDD(3, soft=True, metric="mahalanobis")


def test_auto_shrinkage_is_ledoit_wolf_and_falls_with_more_jets():
    """``shrinkage="auto"`` whitens with the Ledoit–Wolf covariance: the score equals
    scikit-learn's ``LedoitWolf().mahalanobis`` (which divides by n, not n - 1), and the
    estimated shrinkage is small for many jets and larger for few."""
    from sklearn.covariance import LedoitWolf

    gen = torch.Generator().manual_seed(1)
    a = torch.diag(torch.tensor([3.0, 1.0, 0.3, 0.1]))
    z = torch.randn(4000, 4, generator=gen, dtype=torch.float64) @ a.double()
    svdd = DeepSVDD(4, metric="mahalanobis", shrinkage="auto")
    svdd.fit_metric(z)
    lw = LedoitWolf().fit(z.numpy())
    assert svdd.fitted_shrinkage == pytest.approx(lw.shrinkage_, rel=1e-9)
    assert svdd.fitted_shrinkage < 0.01
    probe = torch.randn(50, 4, generator=gen, dtype=torch.float64) * 2
    ref = torch.from_numpy(lw.mahalanobis(probe.numpy()))
    torch.testing.assert_close(svdd.score(probe, None).double(), ref, rtol=2e-3, atol=1e-4)
    svdd.fit_metric(z[:12])
    assert svdd.fitted_shrinkage > 0.05  # 12 jets in 4 dimensions: pulled to the identity
    svdd.fit_metric(z, shrinkage=0.25)  # a number overrides "auto" and is what it says
    assert svdd.fitted_shrinkage == 0.25 and svdd.shrinkage == "auto"
    for bad in ("ledoit", 1.5, -0.1):
        with pytest.raises(ValueError, match="shrinkage"):
            DeepSVDD(4, metric="mahalanobis", shrinkage=bad)


def test_embedding_autoencoder_flags_points_off_the_background_manifold():
    """Background embeddings lie on a 2-D plane in 6-D (plus small noise); anomalies have
    the same spread inside the plane (the same per-dimension scale along it) but leave it.
    A latent-2 embedding autoencoder trained on background scores them higher (AUC > 0.9),
    and its loss falls."""
    from adsearch.models.objectives import EmbeddingAutoencoder

    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(6, 6, generator=g))[0]
    plane, normal = basis[:, :2], basis[:, 2:]
    bkg = torch.randn(4000, 2, generator=g) @ plane.T + 0.05 * torch.randn(4000, 6, generator=g)
    test_bkg = torch.randn(500, 2, generator=g) @ plane.T
    test_sig = torch.randn(500, 2, generator=g) @ plane.T + 0.5 * (
        torch.randn(500, 4, generator=g) @ normal.T
    )
    torch.manual_seed(0)
    ae = EmbeddingAutoencoder(6, latent_dim=2, width=32)
    opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        idx = torch.randint(0, len(bkg), (256,), generator=g)
        loss, per_jet = ae.loss(bkg[idx], None, None)
        assert torch.allclose(loss, per_jet.mean())
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.2 * first
    with torch.no_grad():
        a = auc(ae.score(test_sig, None).numpy(), ae.score(test_bkg, None).numpy())
    assert a > 0.9


@pytest.mark.parametrize("latent", [0, 6, 7])
def test_embedding_autoencoder_needs_a_bottleneck(latent):
    from adsearch.models.objectives import EmbeddingAutoencoder

    with pytest.raises(ValueError, match="latent_dim must be in"):
        EmbeddingAutoencoder(6, latent_dim=latent)


def test_dasvdd_loss_is_error_plus_gamma_distance_and_score_follows_the_metric():
    torch.manual_seed(0)
    ae = EmbeddingAutoencoder(dim=4, latent_dim=2, width=8)
    maha = AutoencodingSVDD(4, ae, metric="mahalanobis", shrinkage=0.0)
    maha.set_center(torch.tensor([1.0, -1.0, 0.5, 0.5]))
    maha.set_gamma(recon_mean=3.0, distance_mean=1.5)
    assert float(maha.gamma) == 2.0
    z = torch.randn(16, 4)
    loss, per = maha.loss(z, None, None)
    expect = ae.score(z, None) + 2.0 * ((z - maha.c) ** 2).sum(-1)
    torch.testing.assert_close(per, expect.detach())
    assert float(loss.detach()) == pytest.approx(float(expect.detach().mean()), rel=1e-6)
    # the loss trains both the decoder and (through z) the network
    zg = z.clone().requires_grad_(True)
    maha.loss(zg, None, None)[0].backward()
    assert zg.grad is not None and float(zg.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in ae.parameters())
    # Mahalanobis score: DeepSVDD's, the decoder plays no part
    maha.fit_metric(z)
    plain = DeepSVDD(4, metric="mahalanobis", shrinkage=0.0)
    plain.fit_metric(z)
    torch.testing.assert_close(maha.score(z, None).detach(), plain.score(z, None))
    # Euclidean: DASVDD's own score, error + gamma |z - c|²
    euc = AutoencodingSVDD(4, ae, metric="euclidean")
    euc.load_state_dict(maha.state_dict())
    torch.testing.assert_close(euc.score(z, None).detach(), expect.detach())


@pytest.mark.parametrize(("recon", "dist"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0)])
def test_dasvdd_gamma_needs_positive_terms(recon, dist):
    obj = AutoencodingSVDD(2, EmbeddingAutoencoder(dim=2, latent_dim=1, width=4))
    with pytest.raises(ValueError, match="DASVDD balance needs positive"):
        obj.set_gamma(recon, dist)

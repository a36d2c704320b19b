"""A pretrained encoder under an anomaly objective (``model.encoder: "pretrained:PATH"``)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml

from adsearch.config import from_dict
from adsearch.errors import ConfigError, InputError
from adsearch.models.pretrained import PretrainedBackbone, read_encoder
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.trainer import pretrain
from adsearch.score import export_run, score_jets
from adsearch.train import TrainConfig, load_model, load_train_config, train
from tests.train.toys import toy_sample


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory):
    """An ``encoder.pt`` of a 1-epoch MPM pretraining (out_dim 8)."""
    out = tmp_path_factory.mktemp("pre")
    cfg = from_dict(
        PretrainConfig,
        {
            "objective": "mpm",
            "data": {"train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
            "encoder": {"width": 16, "heads": 2, "layers": 1, "mlp_layers": 2, "out_dim": 8},
            "optim": {"batch_size": 16, "epochs": 1},
            "out_dir": str(out),
        },
    )
    pretrain(cfg, sample=toy_sample(40, seed=5), progress=False)
    return out / "encoder.pt"


@pytest.fixture(scope="module")
def sample():
    return toy_sample(60, signal_fraction=0.3, seed=3)


def config(out_dir, path, optim=None, **model) -> TrainConfig:
    # DeepSVDD on a pretrained encoder has no head (mlp_layers 0); supervised ones have one
    m = {"backbone": "transformer", "objective": "deepsvdd", "width": 8, "mlp_layers": 0}
    if model.get("objective", "deepsvdd") == "supervised":
        m["mlp_layers"] = 2
    return from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2, "norm_jets": 50},
            "model": {**m, "encoder": f"pretrained:{path}", **model},
            "optim": {"batch_size": 16, "epochs": 2, "lr": 1e-2, **(optim or {})},
            "runtime": {"out_dir": str(out_dir), "device": "cpu", "progress": False},
        },
    )


def _encoder_state(model) -> dict[str, torch.Tensor]:
    assert isinstance(model.backbone, PretrainedBackbone)
    return model.backbone.encoder.state_dict()


def test_frozen_encoder_is_unchanged_and_scores_are_deterministic(tmp_path, encoder_file, sample):
    pre = read_encoder(encoder_file)[0].state_dict()
    copy = tmp_path / "copy.pt"
    shutil.copy(encoder_file, copy)
    a = train(config(tmp_path / "a", copy), sample)
    train(config(tmp_path / "b", encoder_file), sample)
    enc = _encoder_state(a.model)
    assert all(torch.equal(enc[k], pre[k]) for k in pre)  # frozen: as pretrained
    assert not any(p.requires_grad for p in a.model.backbone.encoder.parameters())
    # nothing trains (no head): one pass for the metrics, not optim.epochs of them; the
    # input standardisation is the encoder's own
    assert len(a.history) == 1 and np.isfinite(a.history[-1]["val_loss"])
    assert torch.equal(enc["input_norm.shift"], pre["input_norm.shift"])
    # model.pt is rebuilt without the encoder file (its architecture is saved with it)
    copy.unlink()
    loaded, cfg = load_model(tmp_path / "a")
    s1 = score_jets(loaded, sample, cfg.graph)
    s2 = score_jets(load_model(tmp_path / "b")[0], sample, cfg.graph)
    assert s1.shape == (len(sample),) and np.array_equal(s1, s2)  # same seed, same scores
    assert np.array_equal(score_jets(a.model, sample, cfg.graph), s1)


def test_the_head_sees_standardised_embeddings(tmp_path, encoder_file, sample):
    """The trainer fits the embedding standardisation on its normalisation jets: what the
    bias-free DeepSVDD head receives has mean 0 and scale 1 there (no constant offset for the
    head to map onto the centre), and the fitted numbers are saved with the model."""
    from adsearch.train.data import InputBuilder

    res = train(config(tmp_path / "run", encoder_file), sample)
    bb = res.model.backbone
    assert bool(bb.embedding_norm.fitted)
    x, mask = InputBuilder("dense", {"node_features": "basic", "max_constituents": 100})(
        sample, np.arange(len(sample))
    )
    loaded, _ = load_model(tmp_path / "run")
    assert torch.equal(loaded.backbone.embedding_norm.shift, bb.embedding_norm.shift)
    # fitted on a set of jets, the head's input is standardised on exactly those jets
    bb.fit_embedding_norm([(x[:30], mask[:30]), (x[30:], mask[30:])])
    with torch.no_grad():
        raw = bb.encoder((x, mask)).double()
        z = bb.embedding_norm(raw)
    assert float(raw.mean(0).abs().max()) > 3 * float(raw.std(0).min())  # an offset to remove
    np.testing.assert_allclose(z.mean(0).numpy(), 0.0, atol=1e-5)
    big = raw.std(0, unbiased=False) >= 1e-3  # constant dimensions keep scale 1
    np.testing.assert_allclose(z.std(0, unbiased=False)[big].numpy(), 1.0, rtol=1e-4)


def test_finetune_changes_the_encoder(tmp_path, encoder_file, sample):
    pre = read_encoder(encoder_file)[0].state_dict()
    cfg = config(tmp_path / "ft", encoder_file, objective="supervised", encoder_mode="finetune")
    res = train(cfg, sample)
    enc = _encoder_state(res.model)
    assert any(not torch.equal(enc[k], pre[k]) for k in pre if k.endswith("weight"))
    assert torch.equal(enc["input_norm.scale"], pre["input_norm.scale"])  # not refitted
    assert res.model.backbone.encoder.training is False  # the returned model is in eval
    res.model.train()
    assert res.model.backbone.encoder.training  # finetune: trains with the head


def test_onnx_export_matches_torch(tmp_path, encoder_file, sample):
    train(config(tmp_path / "run", encoder_file), sample)
    path, diff = export_run(tmp_path / "run")
    assert path.is_file() and diff <= 1e-4


def test_relative_encoder_path_and_missing_file(tmp_path, encoder_file, sample):
    (tmp_path / "pre").mkdir()
    shutil.copy(encoder_file, tmp_path / "pre" / "encoder.pt")
    d = {"model": {"backbone": "transformer", "encoder": "pretrained:pre"}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(d))
    cfg = load_train_config(tmp_path / "train.yaml")
    assert cfg.model.encoder == f"pretrained:{tmp_path / 'pre'}"  # the directory works too
    with pytest.raises(InputError, match=str(tmp_path / "nowhere" / "encoder.pt")):
        train(config(tmp_path / "x", tmp_path / "nowhere" / "encoder.pt"), sample)


@pytest.mark.parametrize("shrinkage", [0.5, None])
def test_no_head_deepsvdd_is_the_gaussian_distance_of_the_embedding(
    tmp_path, encoder_file, sample, shrinkage
):
    """DeepSVDD with mlp_layers 0 trains nothing: its score is the Mahalanobis distance of
    the standardised embedding to the training background, with the covariance shrunk half
    way to the scaled identity, or (the default here) by the Ledoit–Wolf estimate
    (recomputed here in numpy and scikit-learn); the shrinkage used is in the metrics and
    the saved model."""
    from sklearn.covariance import ledoit_wolf_shrinkage

    from adsearch.train.data import InputBuilder, split_events, training_jets

    model = {} if shrinkage is None else {"svdd_shrinkage": shrinkage}
    cfg = config(tmp_path / "g", encoder_file, optim={"epochs": 3}, **model)
    assert cfg.model.metric_shrinkage == ("auto" if shrinkage is None else 0.5)
    cfg.data.norm_jets = 10_000  # all training jets fit the norm and the metric
    res = train(cfg, sample)
    assert not any(p.requires_grad for p in res.model.parameters())
    split = split_events(sample.n_events, 0.5, 0.2, cfg.data.seed)
    tr = np.sort(training_jets(sample, split, 0, cfg.data.mode, "deepsvdd"))
    build = InputBuilder("dense", {"node_features": "basic", "max_constituents": 100})
    bb = res.model.backbone
    with torch.no_grad():
        emb = lambda idx: bb.encoder(build(sample, idx)).double().numpy()  # noqa: E731
        e_tr, e_all = emb(tr), emb(np.arange(len(sample)))
    z_tr = (e_tr - e_tr.mean(0)) / e_tr.std(0)
    z = (e_all - e_tr.mean(0)) / e_tr.std(0)
    s = 0.5 if shrinkage == 0.5 else float(ledoit_wolf_shrinkage(z_tr))
    assert 0.0 < s < 1.0
    cov = np.cov(z_tr.T)
    cov = (1 - s) * cov + s * np.trace(cov) / len(cov) * np.eye(len(cov))
    d = z - z_tr.mean(0)
    want = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
    got = score_jets(res.model, sample, cfg.graph)
    np.testing.assert_allclose(got, want, rtol=2e-3)
    saved = torch.load(tmp_path / "g" / "model.pt", map_location="cpu", weights_only=True)
    assert saved["metric_shrinkage"] == pytest.approx(s, rel=1e-6)
    assert 0.0 < res.history[-1]["metric_shrinkage"] < 1.0  # the validation jets' fit


def test_embedding_autoencoder_reconstructs_the_frozen_embedding(tmp_path, encoder_file, sample):
    """objective ae on a pretrained encoder: no head, the encoder frozen, an MLP autoencoder
    of the standardised embedding learns (its held-out error falls) and scores every jet by
    its squared reconstruction error; the scores round-trip through the saved run and ONNX."""
    from adsearch.models.objectives import EmbeddingAutoencoder

    before = {k: v.clone() for k, v in read_encoder(encoder_file)[0].state_dict().items()}
    cfg = config(tmp_path / "ae", encoder_file, optim={"epochs": 8}, objective="ae", latent_dim=2)
    res = train(cfg, sample)
    model = res.model
    assert isinstance(model.objective, EmbeddingAutoencoder)
    assert model.objective.latent_dim == 2
    assert isinstance(model.backbone.head, torch.nn.Identity)
    for k, v in _encoder_state(model).items():
        assert torch.equal(v, before[k]), k
    val = [row["val_loss"] for row in res.history]
    assert val[-1] < val[0]  # it learns to reconstruct the embedding
    from adsearch.train.data import InputBuilder

    build = InputBuilder("dense", {"node_features": "basic", "max_constituents": 100})
    with torch.no_grad():
        z = model.backbone(build(sample, np.arange(len(sample))))  # standardised embedding
        want = ((model.objective.decode(model.objective.encode(z)) - z) ** 2).mean(-1)
    got = score_jets(model, sample, cfg.graph)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-7)
    again = score_jets(load_model(tmp_path / "ae")[0], sample, cfg.graph)
    np.testing.assert_array_equal(again, got)
    _, diff = export_run(tmp_path / "ae")
    assert diff <= 1e-4
    wide = config(tmp_path / "wide", encoder_file, objective="ae", latent_dim=8)
    with pytest.raises(ConfigError, match="latent_dim: latent_dim must be in"):
        train(wide, sample)  # no bottleneck: the embedding has 8 dimensions
    assert not (tmp_path / "wide" / "model.pt").exists()


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"encoder": "encoder.pt"}, "must be 'pretrained:PATH'"),
        ({"encoder": "pretrained:"}, "must be 'pretrained:PATH'"),
        ({"backbone": "part"}, "set backbone 'transformer'"),
        ({"backbone": "gin"}, "set backbone 'transformer'"),
        ({"layers": 2}, "layers, heads and options"),
        ({"heads": 2}, "layers, heads and options"),
        ({"objective": "ae", "encoder_mode": "finetune"}, "'ae' on a pretrained encoder"),
        ({"objective": "ae", "mlp_layers": 2}, "'ae' on a pretrained encoder"),
        ({"objective": "ae", "pt_weighted": True}, "'ae' on a pretrained encoder"),
        ({"encoder_mode": "finetune"}, "collapse"),
        ({"mlp_layers": 2}, "takes mlp_layers 0"),
        ({"objective": "deepsvdd-soft"}, "'deepsvdd-soft' is not available"),
        ({"svdd_metric": "euclidean"}, "svdd_metric mahalanobis"),
        ({"out_dim": 4}, "no out_dim"),
        ({"encoder_mode": "thaw"}, "encoder_mode"),
        ({"encoder": None, "encoder_mode": "frozen"}, "needs model:encoder"),
    ],
)
def test_bad_configs_are_refused(tmp_path, model, match):
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, "enc.pt", **model)


def test_encoder_needs_the_basic_features(tmp_path):
    d = {
        "graph": {"node_features": "part"},
        "model": {"backbone": "transformer", "encoder": "pretrained:enc.pt"},
    }
    with pytest.raises(ConfigError, match="graph:node_features: the pretrained encoder"):
        from_dict(TrainConfig, d)

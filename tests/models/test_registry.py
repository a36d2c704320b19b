import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.models import ModelConfig, build_model
from adsearch.models.imageae import ImageAutoencoder
from adsearch.models.objectives import Autoencoder, AutoencodingSVDD, DeepSVDD, Supervised


@pytest.mark.parametrize("backbone", ["transformer", "part", "particlenet"])
@pytest.mark.parametrize(
    "objective", ["deepsvdd", "deepsvdd-soft", "deepsvdd-ae", "ae", "supervised"]
)
def test_every_dense_model_builds_and_scores(backbone, objective):
    opts: dict = {"heads": 2, "layers": 1}
    if backbone == "particlenet":  # EdgeConv blocks from options, no attention heads
        opts = {"options": {"size": "lite", "k": 3}}
    cfg = ModelConfig(backbone=backbone, objective=objective, width=8, **opts)
    model = build_model(cfg)
    assert model.input_kind == "dense"
    x, mask = torch.randn(3, 5, 3), torch.ones(3, 5, dtype=torch.bool)
    s = model((x, mask))
    assert s.shape == (3,) and torch.isfinite(s).all()
    loss, per = model((x, mask), torch.tensor([0, 1, 0]), loss=True)
    assert loss.ndim == 0 and per.shape == (3,)
    kind = {
        "deepsvdd": DeepSVDD,
        "deepsvdd-soft": DeepSVDD,
        "deepsvdd-ae": AutoencodingSVDD,
        "ae": Autoencoder,
    }
    assert isinstance(model.objective, kind.get(objective, Supervised))
    if objective == "deepsvdd-ae":  # DeepSVDD with the set decoder of "ae" on the same z
        assert isinstance(model.objective.autoencoder, Autoencoder)
        assert model.objective.metric == "euclidean" == cfg.score_metric  # DASVDD's score
        assert cfg.svdd_metric is None and cfg.metric_shrinkage == "auto"
    has_bias = any(n.endswith("bias") for n, _ in model.backbone.named_parameters())
    assert has_bias == (not objective.startswith("deepsvdd"))


def test_defaults_follow_the_atlas_lhco_study():
    cfg = ModelConfig()
    assert (cfg.backbone, cfg.objective, cfg.width, cfg.head_layers) == ("gin", "deepsvdd", 128, 3)
    assert cfg.n_layers == 5 and not cfg.use_bias
    assert ModelConfig(backbone="transformer").n_layers == 3


def test_model_config_is_strict():
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(ModelConfig, {"depth": 3})
    with pytest.raises(ConfigError, match="backbone"):
        from_dict(ModelConfig, {"backbone": "mlp"})
    with pytest.raises(ConfigError, match="nu"):
        from_dict(ModelConfig, {"objective": "deepsvdd-soft", "nu": 0.0})
    assert from_dict(ModelConfig, {"svdd_shrinkage": "auto"}).metric_shrinkage == "auto"
    # unset: 0.5 for a trained network, Ledoit–Wolf on a pretrained encoder without a head
    assert from_dict(ModelConfig, {}).metric_shrinkage == 0.5
    pre = {"backbone": "transformer", "encoder": "pretrained:x.pt"}
    assert from_dict(ModelConfig, pre).metric_shrinkage == "auto"
    assert from_dict(ModelConfig, {**pre, "svdd_shrinkage": 0.3}).metric_shrinkage == 0.3
    with pytest.raises(
        ConfigError, match=r"svdd_shrinkage: bad value 'lw' \(expected a number or 'auto' or null\)"
    ):
        from_dict(ModelConfig, {"svdd_shrinkage": "lw"})
    with pytest.raises(ConfigError, match=r"svdd_shrinkage: must be in \[0, 1\] or 'auto'"):
        from_dict(ModelConfig, {"svdd_shrinkage": 1.5})
    with pytest.raises(ConfigError, match="heads"):
        from_dict(ModelConfig, {"backbone": "part", "width": 10, "heads": 4})
    # particlenet: blocks from options (no layers, no heads); any width without the AE
    from_dict(ModelConfig, {"backbone": "particlenet", "width": 10})
    for bad in ({"layers": 3}, {"heads": 2}):
        with pytest.raises(ConfigError, match="particlenet has no 'layers' or 'heads'"):
            from_dict(ModelConfig, {"backbone": "particlenet", **bad})
    with pytest.raises(ConfigError, match="heads"):
        from_dict(ModelConfig, {"backbone": "particlenet", "objective": "ae", "width": 10})


@pytest.mark.parametrize(
    ("backbone", "objective"),
    [("gin", "deepsvdd"), ("gatv2", "deepsvdd-soft"), ("egat", "supervised")],
)
def test_graph_models_are_permutation_invariant(backbone, objective):
    import awkward as ak
    import numpy as np

    from adsearch.graphs import jet_axis, toy_jets
    from adsearch.models.registry import input_kind
    from adsearch.train.data import InputBuilder, JetSample

    opts = {} if backbone == "gin" else {"heads": 2}
    cfg = ModelConfig(backbone=backbone, objective=objective, width=8, layers=2, **opts)
    torch.manual_seed(0)
    model = build_model(cfg, in_dim=3, edge_dim=1).eval()
    assert model.input_kind == input_kind(cfg) == ("dgl" if backbone == "egat" else "pyg")
    if objective.startswith("deepsvdd"):
        model.objective.set_center(torch.full((8,), 0.5))
        assert not any(n.endswith("bias") for n, _ in model.backbone.named_parameters())
    jets = toy_jets(4, seed=3, mean_constituents=12)
    rng = np.random.default_rng(0)
    perm = ak.Array([[j[i] for i in rng.permutation(len(j))] for j in jets.to_list()])

    def scores(c):
        ax = jet_axis(c)
        z = np.zeros(len(c), np.int64)
        sample = JetSample(c, ax.pt, ax.eta, ax.phi, z, np.arange(len(c)), z)
        with torch.no_grad():
            return model(InputBuilder(model.input_kind, {})(sample, np.arange(len(c))))

    a, b = scores(jets), scores(perm)
    assert a.shape == (4,) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a, a[[1, 2, 3, 0]])  # scores differ between jets


def test_graph_backbone_option_errors_are_config_errors():
    with pytest.raises(ConfigError, match="gin backbone"):
        build_model(ModelConfig(backbone="gin", heads=2), edge_dim=1)


def test_pt_weighted_reaches_the_set_autoencoder_and_only_it():
    cfg = from_dict(
        ModelConfig,
        {
            "backbone": "transformer",
            "objective": "ae",
            "width": 8,
            "heads": 2,
            "layers": 1,
            "pt_weighted": True,
        },
    )
    model = build_model(cfg)
    assert model.objective.pt_weighted
    assert not build_model(ModelConfig(**{**vars(cfg), "pt_weighted": False})).objective.pt_weighted
    # on by default for the set autoencoder only
    assert build_model(ModelConfig(**{**vars(cfg), "pt_weighted": None})).objective.pt_weighted
    assert not ModelConfig(backbone="cnn", objective="ae").use_pt_weighted
    assert not ModelConfig(backbone="transformer", objective="deepsvdd").use_pt_weighted
    for bad in ({"objective": "deepsvdd"}, {"backbone": "cnn", "objective": "ae"}):
        with pytest.raises(ConfigError, match="pt_weighted"):
            from_dict(ModelConfig, {"backbone": "transformer", "pt_weighted": True, **bad})


def test_deepsvdd_ae_on_cnn_takes_the_image_decoder_and_deepsvdd_rules():
    cfg = ModelConfig(backbone="cnn", objective="deepsvdd-ae", width=8, latent_dim=4)
    model = build_model(cfg)
    assert isinstance(model.objective.autoencoder, ImageAutoencoder)
    assert not any(n.endswith("bias") for n, _ in model.backbone.named_parameters())
    x, mask = torch.randn(3, 5, 3).abs(), torch.ones(3, 5, dtype=torch.bool)
    loss, per = model((x, mask), None, loss=True)
    assert per.shape == (3,) and bool(torch.isfinite(loss))


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"backbone": "gin"}, "'deepsvdd-ae' reconstructs the constituent set"),
        ({"backbone": "cnn", "bias": True}, "model:bias: DeepSVDD needs a bias-free network"),
        ({"backbone": "cnn", "options": {"norm": "batch"}}, "model:options:norm"),
        ({"encoder": "pretrained:x.pt", "heads": None}, "trains the backbone it reconstructs"),
        ({"init": "ae_run", "init_mode": "frozen"}, "'frozen' leaves nothing for deepsvdd-ae"),
    ],
)
def test_deepsvdd_ae_refusals(over, match):
    base = {"backbone": "transformer", "objective": "deepsvdd-ae", "width": 8, "heads": 2}
    with pytest.raises(ConfigError, match=match):
        from_dict(ModelConfig, {**base, **over})

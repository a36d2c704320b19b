import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.models import ModelConfig, build_model
from adsearch.models.objectives import Autoencoder, DeepSVDD, Supervised


@pytest.mark.parametrize("backbone", ["transformer", "part"])
@pytest.mark.parametrize("objective", ["deepsvdd", "deepsvdd-soft", "ae", "supervised"])
def test_every_dense_model_builds_and_scores(backbone, objective):
    cfg = ModelConfig(backbone=backbone, objective=objective, width=8, heads=2, layers=1)
    model = build_model(cfg)
    assert model.input_kind == "dense"
    x, mask = torch.randn(3, 5, 3), torch.ones(3, 5, dtype=torch.bool)
    s = model((x, mask))
    assert s.shape == (3,) and torch.isfinite(s).all()
    loss, per = model((x, mask), torch.tensor([0, 1, 0]), loss=True)
    assert loss.ndim == 0 and per.shape == (3,)
    kind = {"deepsvdd": DeepSVDD, "deepsvdd-soft": DeepSVDD, "ae": Autoencoder}
    assert isinstance(model.objective, kind.get(objective, Supervised))
    has_bias = any(n.endswith("bias") for n, _ in model.backbone.named_parameters())
    assert has_bias == (not objective.startswith("deepsvdd"))


def test_defaults_follow_seed_002():
    cfg = ModelConfig()
    assert (cfg.backbone, cfg.objective, cfg.width, cfg.mlp_layers) == ("gin", "deepsvdd", 128, 3)
    assert cfg.n_layers == 5 and not cfg.use_bias
    assert ModelConfig(backbone="transformer").n_layers == 3


def test_model_config_is_strict():
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(ModelConfig, {"depth": 3})
    with pytest.raises(ConfigError, match="backbone"):
        from_dict(ModelConfig, {"backbone": "mlp"})
    with pytest.raises(ConfigError, match="nu"):
        from_dict(ModelConfig, {"objective": "deepsvdd-soft", "nu": 0.0})
    with pytest.raises(ConfigError, match="heads"):
        from_dict(ModelConfig, {"backbone": "part", "width": 10, "heads": 4})

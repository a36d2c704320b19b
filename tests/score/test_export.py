import pytest
import torch

from adsearch.cli import main
from adsearch.config import from_dict
from adsearch.models import ModelConfig, build_model
from adsearch.score import ExportError, check_onnx, export_onnx, export_run, parity_batches
from adsearch.train import TrainConfig, train
from tests.train.toys import toy_sample


def test_onnx_parity_part_autoencoder_at_several_sizes(tmp_path):
    # ParT (pair-feature biases; the plain transformer is a subset) + set decoder; the
    # PyG GIN model is checked through the export verb below
    torch.manual_seed(0)
    cfg = ModelConfig(backbone="part", objective="ae", width=16, heads=2, layers=2)
    model = build_model(cfg).eval()
    batches = parity_batches(model)
    sizes = {tuple(b[0].shape[:2]) for b in batches}
    assert len(sizes) == 3  # different jet counts and constituent counts
    # padding present in the checked batches (masks not all True)
    assert any(not bool(b[1].all()) for b in batches)
    path = export_onnx(model, tmp_path / "m.onnx", batches[1])
    assert check_onnx(model, path, batches) <= 1e-4


def test_dgl_egat_is_refused_directly_but_exported_through_its_torch_twin(tmp_path):
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2},
            "model": {
                "backbone": "egat",
                "objective": "deepsvdd",
                "width": 8,
                "heads": 2,
                "layers": 2,
                "options": {"edge_width": 4},
            },
            "optim": {"batch_size": 32, "epochs": 1},
            "runtime": {"out_dir": str(tmp_path / "run"), "device": "cpu", "progress": False},
        },
    )
    res = train(cfg, toy_sample(40, seed=3))
    assert res.model.input_kind == "dgl"
    with pytest.raises(ExportError, match="DGL models .* cannot be exported"):
        export_onnx(res.model, tmp_path / "m.onnx", parity_batches(res.model)[0])
    assert not (tmp_path / "m.onnx").exists()
    # export_run: same parameters in the plain-torch EGAT, checked against DGL, then ONNX
    path, diff = export_run(tmp_path / "run")
    assert path.is_file() and diff <= 1e-4


def test_cli_export_of_a_pyg_gin_model_is_checked_at_several_sizes(tmp_path, capsys):
    # export_run compares onnxruntime with torch on 3 batches of different graph sizes
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2},
            "model": {
                "backbone": "gin",
                "objective": "deepsvdd",
                "width": 8,
                "layers": 2,
            },
            "optim": {"batch_size": 32, "epochs": 1},
            "runtime": {"out_dir": str(tmp_path / "run"), "device": "cpu", "progress": False},
        },
    )
    train(cfg, toy_sample(60, seed=2))
    assert main(["export", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "model.onnx").is_file()
    assert "max |onnxruntime - torch|" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nothing")]) == 1


def test_export_of_a_trained_particlenet_matches_at_several_jet_sizes(tmp_path):
    # supervised ParticleNet (published default size, k = 16) with masked batch norm whose
    # running statistics were moved by training; the parity batches hold jets with fewer
    # and with more constituents than k, and padding
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2},
            "model": {"backbone": "particlenet", "objective": "supervised", "width": 8},
            "optim": {"batch_size": 32, "epochs": 1},
            "runtime": {"out_dir": str(tmp_path / "run"), "device": "cpu", "progress": False},
        },
    )
    res = train(cfg, toy_sample(60, seed=2))
    bn = res.model.backbone.edge_convs[0].norms[0]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    batches = parity_batches(res.model)
    assert {b[0].shape[1] for b in batches} & set(range(1, 16))  # N < k
    assert max(b[0].shape[1] for b in batches) > 16
    path, diff = export_run(tmp_path / "run", tolerance=1e-5)  # what `adsearch export` runs
    assert path.is_file() and diff <= 1e-5


@pytest.mark.parametrize("backbone", ["gin", "transformer", "particlenet"])
def test_onnx_applies_the_fitted_input_standardisation(tmp_path, backbone):
    # a non-trivial standardisation (logs, shifts, scales) must be inside the exported graph
    torch.manual_seed(1)
    opts: dict = {"layers": 2}
    if backbone == "transformer":
        opts["heads"] = 2  # GIN has no attention heads
    if backbone == "particlenet":  # DeepSVDD: bias-free, no batch norm; blocks from options
        opts = {"options": {"size": "lite"}}
    cfg = ModelConfig(backbone=backbone, objective="deepsvdd", width=16, **opts)
    model = build_model(cfg, log_columns=(0,)).eval()
    norm = model.backbone.input_norm
    norm.fit(torch.rand(500, 3) * torch.tensor([0.2, 0.6, 0.6]) + torch.tensor([1e-3, -0.3, -0.3]))
    assert bool(norm.fitted) and float(norm.scale[1]) != 1.0
    batches = parity_batches(model)
    path = export_onnx(model, tmp_path / "m.onnx", batches[1])
    assert check_onnx(model, path, batches) <= 1e-5
    # the same model with an identity standardisation scores differently: it is not a no-op
    ref = model(batches[0]).detach()
    norm.shift.zero_()
    norm.scale.fill_(1.0)
    assert not torch.allclose(model(batches[0]).detach(), ref)


def test_pyg_export_needs_a_graph_backbone():
    from types import SimpleNamespace

    from adsearch.score.export import _wrapper

    fake = SimpleNamespace(input_kind="pyg", backbone=torch.nn.Linear(2, 1))
    with pytest.raises(ExportError, match="needs a graph backbone, got Linear"):
        _wrapper(fake)

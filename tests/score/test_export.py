import pytest
import torch
from torch import nn

from adsearch.cli import main
from adsearch.config import from_dict
from adsearch.models import ModelConfig, build_model
from adsearch.models.objectives import DeepSVDD
from adsearch.models.registry import AnomalyModel
from adsearch.score import ExportError, check_onnx, export_onnx, parity_batches
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


def test_dgl_models_are_refused_with_a_clear_error(tmp_path):
    class FakeDGL(nn.Module):
        input_kind = "dgl"

        def forward(self, g):  # pragma: no cover - never called
            return g

    model = AnomalyModel(FakeDGL(), DeepSVDD(4), ModelConfig(backbone="egat"))
    with pytest.raises(ExportError, match="DGL models .* cannot be exported"):
        export_onnx(model, tmp_path / "m.onnx", None)
    assert not (tmp_path / "m.onnx").exists()


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

"""Latent columns of a pretrained encoder (adsearch.pretrain.latent, ``adsearch embed``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adsearch.cli import main
from adsearch.config import from_dict
from adsearch.errors import InputError
from adsearch.jets import write_features
from adsearch.models.pretrained import read_encoder
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.latent import latent_column_names, latent_columns, latent_table
from adsearch.pretrain.probe import embed
from adsearch.pretrain.trainer import pretrain
from adsearch.train.data import load_jets
from adsearch.weak.features import feature_matrix, read_table
from tests.train.toys import toy_features, toy_sample


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("pre")
    cfg = from_dict(
        PretrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
            "encoder": {"width": 8, "heads": 2, "layers": 1, "mlp_layers": 2},
            "optim": {"batch_size": 16, "epochs": 1},
            "out_dir": str(out),
        },
    )
    pretrain(cfg, sample=toy_sample(40, seed=5), progress=False)
    return out / "encoder.pt"


def test_columns_hold_each_jets_embedding_in_its_event_row(encoder_file):
    enc, _ = read_encoder(encoder_file)
    sample = toy_sample(30, seed=2)
    n = sample.n_events
    cols = latent_columns(enc, sample, n, max_constituents=100)
    dim = 8
    assert list(cols) == latent_column_names(dim)
    emb = embed(enc, sample, max_constituents=100)
    for i in range(len(sample)):  # every jet's embedding sits in its event row and slot
        j = int(sample.slot[i]) + 1
        got = [cols[f"latent{j}_{k}"][sample.event[i]] for k in range(dim)]
        np.testing.assert_allclose(got, emb[i])
    # deterministic, and an event without a second jet gets NaN there
    again = latent_columns(enc, sample, n, max_constituents=100)
    assert all(np.array_equal(cols[k], again[k], equal_nan=True) for k in cols)
    one = sample.take(np.flatnonzero(~((sample.event == 0) & (sample.slot == 1))))
    c1 = latent_columns(enc, one, n, max_constituents=100)
    assert np.isnan(c1["latent2_0"][0]) and np.isfinite(c1["latent1_0"][0])


def test_embed_verb_writes_a_table_the_weak_features_read(tmp_path, encoder_file, capsys):
    src = write_features(tmp_path / "toy.parquet", toy_features(25, seed=4))
    out = tmp_path / "lat.parquet"
    assert main(["embed", str(encoder_file), str(src), "-o", str(out)]) == 0
    assert "25 events, 8 latent dimensions" in capsys.readouterr().out
    t = read_table(out)
    assert len(t) == 25 and "constituentsj1" not in t.columns
    ref = latent_table(encoder_file, src)
    np.testing.assert_allclose(t["latent2_7"], ref["latent2_7"])
    # latent_lighter_K picks the lighter jet's column, latent_heavier_K the other one
    t["mj1"], t["mj2"] = np.where(np.arange(25) % 2 == 0, 50.0, 150.0), 100.0
    x = feature_matrix(t, ["latent_lighter_3", "latent_heavier_3"])
    first = t["mj1"].to_numpy() <= t["mj2"].to_numpy()
    assert first.any() and (~first).any()
    np.testing.assert_allclose(x[:, 0], np.where(first, t["latent1_3"], t["latent2_3"]))
    np.testing.assert_allclose(x[:, 1], np.where(first, t["latent2_3"], t["latent1_3"]))


def test_missing_latent_columns_and_bad_inputs_are_one_line_errors(tmp_path, encoder_file, capsys):
    plain = pd.DataFrame({"mj1": [1.0], "mj2": [2.0]})
    with pytest.raises(InputError, match=r"latent1_0.*adsearch embed"):
        feature_matrix(plain, ["latent_lighter_0"], "DATA")
    out = tmp_path / "lat.parquet"
    assert (
        main(["embed", str(tmp_path / "none.pt"), str(tmp_path / "x.parquet"), "-o", str(out)]) == 1
    )
    err = capsys.readouterr().err
    assert "none.pt" in err and "Traceback" not in err and not out.exists()
    src = write_features(tmp_path / "toy.parquet", toy_features(5, seed=1))
    assert main(["embed", str(encoder_file), str(tmp_path / "no.parquet"), "-o", str(out)]) == 1
    assert "no.parquet" in capsys.readouterr().err and not out.exists()
    assert not list(tmp_path.glob("*.tmp*")) and src.exists()
    with pytest.raises(InputError):
        load_jets(tmp_path / "no.parquet")

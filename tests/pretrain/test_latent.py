"""Latent columns of a pretrained encoder (adsearch.pretrain.latent, ``adsearch embed``)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adsearch.cli import main
from adsearch.config import from_dict
from adsearch.errors import ConfigError, InputError
from adsearch.jets import write_features
from adsearch.jets.featurefile import FeaturesWriter, read_features
from adsearch.jets.features import Features
from adsearch.models.pretrained import read_encoder
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.latent import (
    latent_column_names,
    latent_columns,
    latent_table,
    write_latent_table,
)
from adsearch.pretrain.probe import embed
from adsearch.pretrain.trainer import pretrain
from adsearch.train.data import iter_jets, load_jets
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
    # --chunk-size: the same table, read and written 4 events at a time (one row group each)
    chunked = tmp_path / "lat4.parquet"
    args = ["embed", str(encoder_file), str(src), "-o", str(chunked), "--chunk-size", "4"]
    assert main([*args, "--batch-size", "6"]) == 0
    assert pq.ParquetFile(chunked).metadata.num_row_groups > 1
    assert _bits(pq.read_table(chunked)) == _bits(
        pa.table(latent_table(encoder_file, src, batch_size=6))
    )
    assert main([*args[:-1], "0"]) == 1
    err = capsys.readouterr().err
    assert "chunk_size: must be a positive integer, got 0" in err and "Traceback" not in err
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


def _bits(table: pa.Table) -> dict[str, bytes]:
    """Every column's raw bytes (bit-identical tables have equal dicts, NaN included)."""
    return {c: table[c].to_numpy().tobytes() for c in table.column_names}


def test_blocks_read_the_file_as_load_jets_does(tmp_path):
    """iter_jets: blocks of at most N events, event rows from each block's start, together
    the jets of load_jets (also inside one large row group)."""
    src = write_features(tmp_path / "toy.parquet", toy_features(23, seed=3))
    whole, feats = load_jets(src)
    blocks = list(iter_jets(src, 7))
    assert [b.n_events for b, _ in blocks] == [7, 7, 7, 2]
    assert all(b.event.min() == 0 for b, _ in blocks)
    for name in ("pt", "eta", "phi", "label", "slot"):
        np.testing.assert_array_equal(np.concatenate([getattr(b, name) for b, _ in blocks]),
                                      getattr(whole, name))  # fmt: skip
    assert ak.array_equal(ak.concatenate([b.constituents for b, _ in blocks]), whole.constituents)
    for c in ("mjj", "event_index"):
        np.testing.assert_array_equal(
            np.concatenate([f.table[c] for _, f in blocks]), feats.table[c]
        )
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        next(iter_jets(src, 0))


@pytest.mark.parametrize("batch_size", [1024, 4, 5])
def test_chunked_table_is_bit_identical_to_one_chunk(tmp_path, encoder_file, batch_size):
    """Any chunk size gives the columns of one embedding pass over the whole file (the jets
    of a batch cut by a block boundary wait for the next block; an odd batch size cuts
    events in two), and the written file holds the same bits."""
    src = write_features(tmp_path / "toy.parquet", toy_features(31, seed=6))
    enc, blob = read_encoder(encoder_file)
    sample, feats = load_jets(src)
    cap = blob["config"]["data"]["max_constituents"]
    unchunked = {k: v for k, v in feats.table.items() if np.ndim(v) == 1}
    unchunked.update(latent_columns(enc, sample, 31, max_constituents=cap, batch_size=batch_size))
    want = _bits(pa.table(unchunked))
    for chunk in (7, 1, 31, 1000):
        got = latent_table(encoder_file, src, chunk_size=chunk, batch_size=batch_size)
        assert list(got) == list(unchunked) and _bits(pa.table(got)) == want, chunk
    files = {}
    for chunk in (7, 1000):
        out = tmp_path / f"lat{chunk}.parquet"
        path, n, dim = write_latent_table(encoder_file, src, out, chunk_size=chunk,
                                          batch_size=batch_size, progress=False)  # fmt: skip
        assert (path, n, dim) == (out, 31, 8)
        files[chunk] = pq.read_table(out)
    assert _bits(files[7]) == _bits(files[1000]) == want
    assert files[7].schema == files[1000].schema


def test_chunk_size_is_checked_and_an_error_leaves_no_file(tmp_path, encoder_file):
    src = write_features(tmp_path / "toy.parquet", toy_features(5, seed=1))
    out = tmp_path / "lat.parquet"
    for kw in ({"chunk_size": 0}, {"chunk_size": 2.5}, {"batch_size": -1}):
        with pytest.raises(ConfigError, match=r"(chunk|batch)_size: must be a positive integer"):
            write_latent_table(encoder_file, src, out, progress=False, **kw)
    # a jet without constituents in the second row group: the first blocks are written
    # before the error, then the output and its temporary file are gone
    good = toy_features(10, seed=2)
    bare = toy_features(5, seed=3)
    bare = Features(bare.table, bare.constituents[:, :, :0], 5, 0)
    with FeaturesWriter(tmp_path / "mixed.parquet") as w:
        w.write(good)
        w.write(bare)
    with pytest.raises(InputError, match=r"mixed.parquet: event row 10 has a jet without "):
        write_latent_table(encoder_file, tmp_path / "mixed.parquet", out, chunk_size=4,
                           batch_size=4, progress=False)  # fmt: skip
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # an empty features file gives an empty table with every column
    empty = write_features(tmp_path / "empty.parquet", Features.empty())
    t = latent_table(encoder_file, empty)
    assert len(t["mjj"]) == 0 and len(t["latent2_7"]) == 0
    assert set(read_features(empty).table) < set(t)

from __future__ import annotations

import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import InputError
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import build_contrastive, encoder_blob, load_encoder
from tests.pretrain.jets import toy_batch

SMALL = {"encoder": {"width": 16, "heads": 2, "layers": 1, "out_dim": 8}, "projection": {"dim": 4}}


def test_build_is_seeded_and_shapes():
    cfg = from_dict(PretrainConfig, SMALL)
    a, b = build_contrastive(cfg), build_contrastive(cfg)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = build_contrastive(from_dict(PretrainConfig, {**SMALL, "seed": 1}))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    x, mask = toy_batch(b=6, n=9)
    h, z = a(x.float(), mask)
    assert h.shape == (6, 8) and z.shape == (6, 4)


def test_blob_round_trip_gives_the_same_embeddings(tmp_path):
    cfg = from_dict(PretrainConfig, SMALL)
    model = build_contrastive(cfg).eval()
    x, mask = toy_batch(b=6, n=9)
    model.encoder.input_norm.fit(x[mask].float())
    torch.save(encoder_blob(model, {**SMALL}, epoch=3), tmp_path / "encoder.pt")
    enc, loaded = load_encoder(tmp_path / "encoder.pt")
    assert loaded.encoder.out_dim == 8
    with torch.no_grad():
        torch.testing.assert_close(enc((x.float(), mask)), model(x.float(), mask)[0])
    assert not any(p.requires_grad for p in enc.parameters())


def test_load_encoder_refuses_other_files(tmp_path):
    torch.save({"format": "something"}, tmp_path / "encoder.pt")
    with pytest.raises(InputError, match="not an adsearch encoder"):
        load_encoder(tmp_path)
    with pytest.raises(InputError, match="no such encoder"):
        load_encoder(tmp_path / "missing.pt")

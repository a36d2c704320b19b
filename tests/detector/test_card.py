"""Detector cards: built-in card, YAML round trip, refusal of bad keys and values."""

from __future__ import annotations

import pytest
import yaml

from adsearch.detector import card_from_json, card_to_json, load_card, save_card
from adsearch.errors import ConfigError


def test_builtin_card_has_delphes_cms_numbers():
    card = load_card("lhco")
    assert card.tracking.eta_max == 2.5
    assert card.solenoid.bz == 3.8
    edges, nphi = card.hcal.cells()
    assert edges[0] == -5.0 and edges[-1] == 5.0
    # HCAL barrel towers are 0.087 x 5 degrees, ECAL barrel 0.0174 x 1 degree
    i = int((edges < 0.05).sum())
    assert edges[i] - edges[i - 1] == pytest.approx(0.087)
    assert nphi[i - 1] == 72
    e_edges, e_nphi = card.ecal.cells()
    j = int((e_edges < 0.05).sum())
    assert e_edges[j] - e_edges[j - 1] == pytest.approx(0.0174)
    assert e_nphi[j - 1] == 360


def test_yaml_and_json_round_trip(tmp_path):
    card = load_card("lhco")
    path = tmp_path / "card.yaml"
    save_card(card, path)
    assert load_card(str(path)) == card
    assert card_from_json(card_to_json(card)) == card


def _write(tmp_path, data):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return str(p)


def test_bad_key_is_refused_by_name(tmp_path):
    card = card_to_dict()
    card["tracking"]["efficiancy"] = []
    with pytest.raises(ConfigError, match="efficiancy"):
        load_card(_write(tmp_path, card))


def test_negative_resolution_is_refused_by_name(tmp_path):
    card = card_to_dict()
    card["hcal"]["resolution"][0]["stochastic"] = -1.5
    with pytest.raises(ConfigError, match=r"hcal:resolution\[0\]:stochastic"):
        load_card(_write(tmp_path, card))
    card = card_to_dict()
    card["tracking"]["resolution"][1]["constant"] = -0.1
    with pytest.raises(ConfigError, match=r"tracking:resolution\[1\]:constant"):
        load_card(_write(tmp_path, card))


def test_efficiency_outside_unit_interval_is_refused(tmp_path):
    card = card_to_dict()
    card["tracking"]["efficiency"][0]["efficiency"] = [0.7, 1.2]
    with pytest.raises(ConfigError, match="efficiency"):
        load_card(_write(tmp_path, card))


def test_unknown_builtin_or_missing_file():
    with pytest.raises(ConfigError, match="not a built-in card"):
        load_card("atlas")
    with pytest.raises(ConfigError, match="no such config file"):
        load_card("/nonexistent/card.yaml")


def card_to_dict():
    from adsearch.config import to_dict

    return to_dict(load_card("lhco"))

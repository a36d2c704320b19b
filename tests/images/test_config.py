import dataclasses

import pytest

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.images import ImagesConfig


def test_defaults_are_25_pixels_over_unit_window():
    cfg = ImagesConfig()
    assert (cfg.pixels, cfg.extent, cfg.pixel_size) == (25, 1.0, 0.08)
    assert cfg.centre and cfg.rotate and cfg.flip and cfg.normalise and not cfg.augment


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"pixels": 0}, "pixels"),
        ({"extent": 0.0}, "extent"),
        ({"extent": float("nan")}, "extent"),
        ({"phi_column": 1}, "distinct"),
        ({"pt_column": -1}, "distinct"),
        ({"pixel": 25}, "pixel"),  # unknown key
    ],
)
def test_invalid_values_are_config_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(ImagesConfig, data, source="images")


def test_replace_revalidates():
    with pytest.raises(ConfigError, match="pixels"):
        dataclasses.replace(ImagesConfig(), pixels=-3)

"""read_blob: the torch-saved files of adsearch, every failure a one-line InputError."""

from __future__ import annotations

import pytest
import torch

from adsearch.errors import InputError
from adsearch.models.files import read_blob

KIND = ("adsearch-model", "an adsearch model file", "no such model file (train first)")


def test_reads_the_dict_on_the_cpu(tmp_path):
    torch.save({"format": "adsearch-model", "w": torch.arange(3)}, tmp_path / "m.pt")
    blob = read_blob(tmp_path / "m.pt", *KIND)
    assert blob["w"].tolist() == [0, 1, 2]
    assert blob["w"].device.type == "cpu"


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"m\.pt: no such model file \(train first\)$"):
        read_blob(tmp_path / "m.pt", *KIND)
    with pytest.raises(InputError, match="no such model file"):  # a directory is no file
        read_blob(tmp_path, *KIND)


def test_not_a_torch_file(tmp_path):
    (tmp_path / "m.pt").write_text("not a torch file")
    with pytest.raises(InputError, match=r"m\.pt: not an adsearch model file \(\w+\)$"):
        read_blob(tmp_path / "m.pt", *KIND)


@pytest.mark.parametrize("content", [{"format": "adsearch-encoder"}, {"w": 1}, [1, 2]])
def test_wrong_content(tmp_path, content):
    torch.save(content, tmp_path / "m.pt")
    with pytest.raises(InputError, match=r"m\.pt: not an adsearch model file$"):
        read_blob(tmp_path / "m.pt", *KIND)

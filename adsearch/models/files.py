"""Reading the torch-saved files of adsearch (model, encoder, checkpoints) with clear errors.

Every such file is a dict with a ``format`` string naming what it is (``"adsearch-model"``,
``"adsearch-encoder"``, ``"adsearch-pretrain-checkpoint"``, ...). :func:`read_blob` reads one
on the CPU with ``weights_only=True`` and turns every way it can fail into a one-line
:class:`~adsearch.errors.InputError` naming the path: the file is missing, is not a torch
file, or holds something else.

Examples
--------
>>> import tempfile, torch
>>> p = Path(tempfile.mkdtemp()) / "model.pt"
>>> torch.save({"format": "adsearch-model", "epoch": 3}, p)
>>> model = ("adsearch-model", "an adsearch model file", "no such model file")
>>> read_blob(p, *model)["epoch"]
3
>>> read_blob(Path("absent.pt"), *model)
Traceback (most recent call last):
...
adsearch.errors.InputError: absent.pt: no such model file
>>> torch.save({"format": "adsearch-encoder"}, p)
>>> read_blob(p, *model)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
adsearch.errors.InputError: ...model.pt: not an adsearch model file
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from adsearch.errors import InputError

__all__ = ["read_blob"]


def read_blob(path: Path, fmt: str, what: str, missing: str) -> dict[str, Any]:
    """The dict saved at ``path`` (tensors on the CPU), checked to have ``format`` ``fmt``.

    Parameters
    ----------
    path : Path
        The file.
    fmt : str
        The ``format`` entry the file must have.
    what : str
        What the file should be, for the errors: ``f"{path}: not {what}"`` (e.g. ``"an
        adsearch model file"``).
    missing : str
        The error for an absent file: ``f"{path}: {missing}"`` (e.g. ``"no such model file
        (train first: adsearch train CONFIG)"``).

    Raises
    ------
    InputError
        The file is missing, is not a torch file (the exception type torch raised is named),
        or is not a dict with ``format`` ``fmt``.
    """
    if not path.is_file():
        raise InputError(f"{path}: {missing}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt/foreign file
        raise InputError(f"{path}: not {what} ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise InputError(f"{path}: not {what}")
    return blob

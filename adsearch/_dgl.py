"""Import DGL core beside our torch without its graphbolt extension.

Why this exists: only ``dgl==2.1.0`` has a Linux wheel on PyPI, and ``import dgl`` always
reaches ``dgl.graphbolt``, which loads a native library built only for torch <= 2.2.1 and
fails beside torch 2.13. The graph, message-passing and ``nn`` parts we use do not need
graphbolt (every graphbolt use in ``dgl.distributed`` is inside functions), so when the
matching ``libgraphbolt_pytorch_<torch>.so`` is absent we register a stub module that raises
a clear error on any use. Nothing in site-packages is edited.

Use ``from adsearch._dgl import dgl`` everywhere instead of ``import dgl``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import NoReturn

__all__ = ["dgl", "graphbolt_stubbed"]


class _GraphboltStub(types.ModuleType):
    def __getattr__(self, name: str) -> NoReturn:  # pragma: no cover - only reached by misuse
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"dgl.graphbolt.{name}: graphbolt is disabled in adsearch (its native library "
            "is not built for this torch version); DGL core and dgl.nn work"
        )


def _install_shim() -> bool:
    if "dgl" in sys.modules:
        return "dgl.graphbolt" in sys.modules and isinstance(
            sys.modules["dgl.graphbolt"], _GraphboltStub
        )
    os.environ.setdefault("DGLBACKEND", "pytorch")
    spec = importlib.util.find_spec("dgl")
    if spec is None or spec.origin is None:
        raise ImportError("dgl is not installed: pip install 'dgl==2.1.0'")
    import torch

    version = torch.__version__.split("+")[0]
    lib = Path(spec.origin).parent / "graphbolt" / f"libgraphbolt_pytorch_{version}.so"
    if lib.exists():
        return False
    stub = _GraphboltStub("dgl.graphbolt")
    stub.__path__ = []  # a package, so "from dgl.graphbolt import x" reaches __getattr__
    sys.modules["dgl.graphbolt"] = stub
    return True


graphbolt_stubbed: bool = _install_shim()

import dgl  # noqa: E402

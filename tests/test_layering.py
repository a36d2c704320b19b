"""The package layers: a lower package never imports a higher one, and packages form no cycle.

Every ``import adsearch.X`` / ``from adsearch.X import ...`` of every module is read with
``ast`` (also the imports inside functions and under ``TYPE_CHECKING``: a lazy import is
still a dependency), and checked against :data:`LAYERS`.

The layers, lowest first (a package may import packages of its own layer or lower; two
packages of one layer may depend on each other in one direction only, see the cycle test):

    ==  =========================================  =============================================
    0   errors, progress, parallel, config, _dgl    foundations: errors, progress bars, process
                                                    pools, the YAML/dataclass config loader, DGL
                                                    import shim
    1   io                                          event files (LHCO HDF5, ROOT), atomic output
    2   generate, detector                          Pythia 8 generation, detector response
    3   jets, distributed                           clustering, trigger, features (+ on dask)
    4   graphs, images                              constituent graphs, jet images
    5   models                                      backbones, objectives, registry
    6   train, pretrain                             training loop, contrastive pretraining
    7   score, weak                                 anomaly scores, baselines (weak: reserved)
    8   stats                                       regions, fit, BumpHunter, limits, metrics
    9   plot                                        every figure
    10  pipeline                                    ``adsearch run``: configs composed, steps
    11  cli                                         the command line
    ==  =========================================  =============================================

This is the order in which data flows through the search (issue 16). Where code needs a
higher layer for a good reason, the import is listed in :data:`EXCEPTIONS` with the reason,
module by module (any other import of that package still fails).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "adsearch"

#: package (or top-level module) of adsearch -> layer; lowest first
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "progress": 0,
    "parallel": 0,
    "config": 0,
    "_dgl": 0,
    "io": 1,
    "generate": 2,
    "detector": 2,
    "jets": 3,
    "distributed": 3,
    "graphs": 4,
    "images": 4,
    "models": 5,
    "train": 6,
    "pretrain": 6,
    "score": 7,
    "weak": 7,
    "stats": 8,
    "plot": 9,
    "pipeline": 10,
    "cli": 11,
}

#: (importing package, imported module) -> why a lower layer may import it
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("generate", "adsearch.jets.trigger"): (
        "the LHCO trigger is a jet selection (anti-kT R=1.0, pT > 1.2 TeV); generation "
        "applies it to every generated block, so jets own it and generate uses it"
    ),
    ("detector", "adsearch.jets.trigger"): (
        "simulate_file applies the same trigger after the detector response"
    ),
    ("score", "adsearch.stats.metrics"): (
        "ROC/AUC/SIC are pure numpy (no import above io); the baselines report their AUC "
        "with the same functions as the search, so both use one implementation"
    ),
}


def _package_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if rel.parts else "__init__"


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(module, line)`` of every absolute import of an adsearch module in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from adsearch.stats import metrics`` imports the module adsearch.stats.metrics
            subs = [f"{node.module}.{a.name}" for a in node.names]
            subs = [m for m in subs if _is_module(m)]
            found += [(m, node.lineno) for m in subs or [node.module]]
    return [(m, line) for m, line in found if m.startswith("adsearch.")]


def _edges() -> list[tuple[str, str, str, Path, int]]:
    """``(from package, to package, imported module, file, line)`` across packages."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _package_of(path)
        for module, line in _imports(path):
            dst = module.split(".")[1]
            if dst != src:
                out.append((src, dst, module, path, line))
    return out


def test_every_package_has_a_layer():
    names = {_package_of(p) for p in PACKAGE.rglob("*.py")}
    missing = sorted(names - set(LAYERS))
    assert not missing, f"add {missing} to LAYERS in tests/test_layering.py (and docs)"


def test_no_package_imports_a_higher_layer():
    bad = []
    for src, dst, module, path, line in _edges():
        if dst not in LAYERS or src not in LAYERS:
            continue  # reported by test_every_package_has_a_layer
        if LAYERS[dst] <= LAYERS[src] or (src, module) in EXCEPTIONS:
            continue
        rel = path.relative_to(PACKAGE.parent)
        bad.append(f"{rel}:{line}: {src} (layer {LAYERS[src]}) imports {module} "
                   f"(layer {LAYERS[dst]})")  # fmt: skip
    assert not bad, "\n".join(bad)


def test_exceptions_are_still_needed():
    used = {(src, module) for src, _, module, _, _ in _edges()}
    stale = sorted(set(EXCEPTIONS) - used)
    assert not stale, f"remove {stale} from EXCEPTIONS: nothing imports it any more"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst, _, _, _ in _edges():
        graph[src].add(dst)
    cycle = _cycle(graph)
    assert cycle is None, "packages import each other: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "expected"),
    [({"a": {"b"}, "b": {"c"}}, None), ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"])],
)
def test_cycle_finder(graph, expected):
    assert _cycle(graph) == expected

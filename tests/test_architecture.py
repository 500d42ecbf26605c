"""The layers import downward only, and no module imports itself back through others (STYLE.md §7).

Read from the source with ``ast`` (every import, also those inside functions; those under ``if
TYPE_CHECKING:`` only serve the type checker and are left out), mapped onto the installed package
layout (``passes/`` is ``lergan_cc.passes``, ``targets/`` is ``lergan_cc.targets``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"lergan_cc": ROOT / "lergan_cc", "lergan_cc.passes": ROOT / "passes",
                "lergan_cc.targets": ROOT / "targets", "lergan_cc.grammar": ROOT / "grammar"}

# Each layer (the first name under lergan_cc) and the layers it may import. Reading it bottom-up is the
# pipeline: front ends -> IR -> passes -> lowering -> the FSM program format -> the simulator; reports,
# the API, the bench and the command lines on top.
BASE = {"errors", "options", "lark_errors", "shards", "limits", "views"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(), "lark_errors": set(), "options": {"errors"}, "shards": set(), "grammar": set(),
    "views": set(),  # a tensor's layout in the source model against the program's
    "limits": {"errors"},  # number limits every input is held to
    "outputs": {"errors"},  # the output discipline of every tool: files only
    "capacity": BASE | {"ir", "targets"},  # does a model fit the machine (after import)
    "preflight": BASE | {"passes", "pipeline", "context"},  # flag checks before any work
    "zerofree": set(),
    "targets": BASE,
    "fsm": BASE | {"targets"},
    "ir": BASE | {"zerofree"},
    "context": BASE | {"targets", "fsm"},
    "pass_base": BASE | {"ir"},
    "frontends": BASE | {"ir", "zerofree"},
    "mapping": BASE | {"ir", "zerofree", "targets"},
    "lowering": BASE | {"ir", "zerofree", "targets", "fsm", "mapping", "context"},
    "passes": BASE | {"ir", "zerofree", "targets", "fsm", "mapping", "lowering", "context", "pass_base",
                      "frontends"},
    "pipeline": BASE | {"ir", "context", "pass_base", "passes", "capacity"},
    "sim": BASE | {"targets", "fsm", "zerofree"},
    "reports": BASE | {"ir", "zerofree", "targets", "sim"},
    "api": BASE | {"ir", "context", "pipeline", "fsm", "sim", "reports", "cli", "outputs", "frontends"},
    "bench": BASE | {"api", "ir", "reports", "options", "targets", "zerofree"},
    "cli": BASE | {"api", "bench", "pipeline", "context", "ir", "reports", "fsm", "sim", "targets", "outputs",
                   "capacity", "preflight"},
    "__init__": {"api", "errors"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for package, directory in PACKAGE_DIRS.items():
        for path in directory.rglob("*.py"):
            rel = path.relative_to(directory).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
            for n in ast.walk(node)}
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {m for m in found if m in known}


def _graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(path, name, set(modules)):
            if target != name:
                g.add_edge(name, target)
    return g


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycles_between_files() -> None:
    g = _graph()
    # a package's __init__ re-exporting its own submodules is not a cycle of the code
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {sorted(cycles, key=len)[:3]}"


def test_layers_import_downward_only() -> None:
    bad = sorted((a, b) for a, b in _graph().edges
                 if _layer(a) != _layer(b) and _layer(b) not in ALLOWED[_layer(a)])
    assert not bad, f"forbidden imports (module -> module): {bad[:10]}"


def test_every_layer_is_declared() -> None:
    assert {_layer(m) for m in _graph()} <= set(ALLOWED)


@pytest.mark.parametrize(("layer", "package"), [("frontends", "onnx"), ("ir", "lark"), ("fsm", "lark"),
                                                ("lowering", "jinja2")])
def test_dependencies_stay_behind_their_adapter(layer: str, package: str) -> None:
    """onnx only in the ONNX front end, lark only in parsers, jinja2 only in the emitter."""
    owners = {"onnx": {"lergan_cc.frontends.onnx_frontend", "lergan_cc.frontends.onnx_fold",
                       "lergan_cc.frontends.onnx_export", "lergan_cc.frontends.onnx_dag"},
              "lark": {"lergan_cc.ir.parser", "lergan_cc.fsm.asm", "lergan_cc.frontends.dsl", "lergan_cc.lark_errors"},
              "jinja2": {"lergan_cc.lowering.render"}}[package]
    users = set()
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == package or n.startswith(package + ".") for n in names):
                users.add(name)
    assert users <= owners, f"{package} imported outside its adapter: {sorted(users - owners)}"
    assert any(o.startswith(f"lergan_cc.{layer}") for o in owners)

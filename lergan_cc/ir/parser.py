"""Parse the textual IR (``grammar/ir.lark``) back into a Graph."""

from __future__ import annotations

import builtins
import json
from functools import cache
from importlib import resources
from typing import Any

import lark

from lergan_cc.errors import LerganError, SourceError, read_error
from lergan_cc.ir.attribute import Attr, AttrError, Site
from lergan_cc.ir.attrs import GRAPH_ATTRS, OP_ATTRS
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import OP_CLASSES, make_op, typed_fields
from lergan_cc.ir.printer import LIR_VERSION
from lergan_cc.lark_errors import describe
from lergan_cc.limits import to_float, to_int


@cache
def _parser() -> lark.Lark:
    text = resources.files("lergan_cc.grammar").joinpath("ir.lark").read_text()
    return lark.Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_ir(text: str, path: str = "<ir>") -> Graph:
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as e:
        raise SourceError(path, e.line, e.column, describe(e, _parser())) from None
    return _Builder(path).build(tree)



def _children(node: lark.Tree[Any]) -> list[Any]:
    """A node's children; after ``_Values`` they are plain values, tokens and trees."""
    return list(node.children)


def _unname(token: str) -> str:
    body = token[1:]
    return json.loads(body) if body.startswith('"') else body


class _Values(lark.Transformer):
    def number(self, items: builtins.list[Any]) -> int | float:
        s = str(items[0])
        return to_float(s) if any(c in s for c in ".eE") else to_int(s)

    def string(self, items: builtins.list[Any]) -> str:
        return json.loads(items[0])

    def true(self, _: list[Any]) -> bool:
        return True

    def false(self, _: list[Any]) -> bool:
        return False

    def none(self, _: list[Any]) -> None:
        return None

    def ref(self, items: builtins.list[Any]) -> str:
        return _unname(items[0])

    def list(self, items: builtins.list[Any]) -> builtins.list[Any]:
        return list(items)

    def pair(self, items: builtins.list[Any]) -> tuple[str, Any]:
        key = items[0]
        return (json.loads(key) if key.type == "STRING" else str(key)), items[1]

    def dict(self, items: builtins.list[Any]) -> builtins.dict[str, Any]:
        return dict(items)

    def shape(self, items: builtins.list[Any]) -> tuple[int, ...]:
        return tuple(to_int(t) for t in items)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, node: lark.Tree, message: str) -> SourceError:
        return SourceError(self.path, node.meta.line, node.meta.column, message)

    def build(self, tree: lark.Tree) -> Graph:
        try:
            tree = _Values().transform(tree)
        except lark.exceptions.VisitError as e:  # a number past the limits (lergan_cc.limits)
            meta = getattr(e.obj, "meta", None)
            raise SourceError(self.path, getattr(meta, "line", 1), getattr(meta, "column", 1), str(e.orig_exc)) \
                from None
        header, model, *items = _children(tree)
        try:
            version = to_int(str(_children(header)[0]))
        except ValueError:
            raise self.error(header, f"IR version {str(_children(header)[0])[:24]} is not an integer") from None
        if version != LIR_VERSION:
            raise self.error(header, f"IR version {version} is not supported (expected {LIR_VERSION})")
        name, kind, *meta = _children(model)
        g = Graph(model=json.loads(name), kind=str(kind))
        self.graph_attrs = (meta[0] if meta else {}, model)
        for item in items:
            getattr(self, item.data)(g, item)
        values, node = self.graph_attrs
        g.attach(*self._attached(values, GRAPH_ATTRS, Site(g), node, "model"))
        return g

    def _attached(self, values: dict[str, Any], registry: dict[str, type[Attr]], site: Site, node: lark.Tree,
                  where: str) -> list[Attr]:
        out = []
        for key, value in values.items():
            cls = registry.get(key)
            if cls is None:
                known = ", ".join(sorted(registry))
                raise self.error(node, f"{where}: unknown attribute '{key}' (known: {known})")
            try:
                out.append(cls.from_value(value, site))
            except (AttrError, ValueError) as e:
                raise self.error(node, f"{where}: {e}") from None
        return out

    def param(self, g: Graph, node: lark.Tree) -> None:
        name, shape = _children(node)
        try:
            g.add_param(_unname(name), shape)
        except ValueError as e:  # declared twice
            raise self.error(node, str(e)) from None

    def opdef(self, g: Graph, node: lark.Tree) -> None:
        out, opname, *rest = _children(node)
        attrs: dict[str, Any] = rest.pop() if rest and isinstance(rest[-1], dict) else {}
        shape = rest.pop()
        if str(opname) not in OP_CLASSES:
            raise self.error(node, f"unknown op '{opname}'")
        declared = typed_fields(OP_CLASSES[str(opname)])
        own = {k: v for k, v in attrs.items() if k in declared}
        passes = {k: v for k, v in attrs.items() if k not in declared and k not in ("layer", "phase")}
        try:
            op = make_op(str(opname), name=_unname(out), inputs=tuple(_unname(r) for r in rest), shape=shape,
                         layer=attrs.get("layer", ""), phase=attrs.get("phase", ""), **own)
            g.add(op)
        except (TypeError, ValueError) as e:
            raise self.error(node, str(e)) from None
        g.replace(op.attach(*self._attached(passes, OP_ATTRS, Site(g, op), node, f"op '{op.name}'")))

    def outputs(self, g: Graph, node: lark.Tree) -> None:
        for r in _children(node):
            if _unname(r) not in g:
                raise self.error(node, f"output '{_unname(r)}' is not defined")
            g.outputs.append(_unname(r))


def parse_ir_file(path: str) -> Graph:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise read_error(path, e) from None
    except UnicodeDecodeError as e:
        raise LerganError(f"{path}: not UTF-8 text (byte {e.start}): not a .lir file") from None
    return parse_ir(text, path)

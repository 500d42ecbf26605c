"""Deterministic textual form of the IR: sorted attributes, stable op order."""

from __future__ import annotations

import json
import re
from typing import Any

from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op

LIR_VERSION = 1
_BARE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*\Z")
PARAM_FIELDS = frozenset({"weight", "bias", "scale", "mean", "var"})
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def print_graph(g: Graph) -> str:
    lines = [f"lir {LIR_VERSION}", f"model {json.dumps(g.model)} {g.kind}{_attrs(g.meta)}"]
    lines += [f"param {ref(p.name)} : {_shape(p.shape)}" for p in sorted(g.params.values(), key=lambda p: p.name)]
    lines += [print_op(op) for op in g.ops()]
    if g.outputs:
        lines.append("output " + ", ".join(valref(o) for o in g.outputs))
    return "\n".join(lines) + "\n"


def print_op(op: Op) -> str:
    ins = " " + ", ".join(valref(i) for i in op.inputs) if op.inputs else ""
    attrs = {"layer": op.layer, "phase": op.phase, **op.attrs()}
    attrs = {k: Ref(v) if k in PARAM_FIELDS and isinstance(v, str) else v for k, v in attrs.items()}
    return f"{valref(op.name)} = {op.OP}{ins} : {_shape(op.shape)}{_attrs(attrs)}"


def valref(name: str) -> str:
    return "%" + _name(name)


def ref(name: str) -> str:
    return "@" + _name(name)


def _name(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _attrs(attrs: dict[str, Any]) -> str:
    shown = {k: v for k, v in attrs.items() if v is not None}
    return " " + format_value(shown) if shown else ""


def format_value(v: Any) -> str:
    """One attribute value; parameter references are ``Ref`` strings."""
    if isinstance(v, Ref):
        return ref(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        items = (f"{k if _KEY.match(k) else json.dumps(k)} = {format_value(v[k])}" for k in sorted(v))
        return "{" + ", ".join(items) + "}"
    if hasattr(v, "item"):  # numpy scalar
        return format_value(v.item())
    raise TypeError(f"cannot print attribute value {v!r}")


class Ref(str):
    """A string that names a parameter; printed as ``@name``."""

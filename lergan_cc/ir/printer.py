"""Deterministic textual form of the IR: sorted attributes, stable op order, long values wrapped.

An op is one line unless one of its attribute values is long (a reshape plan's kinds, the copies
of a placement): such a value is broken over indented continuation lines (elements filled up to
:data:`WRAP` characters a line), so that no line runs to thousands of characters. The parser ignores
line breaks, so the round trip is exact.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op

LIR_VERSION = 2
WRAP = 200  # a list or dict longer than this (as one line) is broken, one element per line
_BARE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*\Z")
PARAM_FIELDS = frozenset({"weight", "bias", "scale", "mean", "var"})
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def print_graph(g: Graph) -> str:
    graph_attrs = {k: a.to_value() for k, a in g.attached.items()}
    lines = [f"lir {LIR_VERSION}", f"model {json.dumps(g.model)} {g.kind}{_attrs(graph_attrs)}"]
    lines += [f"param {ref(p.name)} : {_shape(p.shape)}" for p in sorted(g.params.values(), key=lambda p: p.name)]
    lines += [print_op(op) for op in g.ops()]
    if g.outputs:
        lines.append("output " + ", ".join(valref(o) for o in g.outputs))
    return "\n".join(lines) + "\n"


def print_op(op: Op) -> str:
    ins = " " + ", ".join(valref(i) for i in op.inputs) if op.inputs else ""
    own = {k: Ref(v) if k in PARAM_FIELDS and isinstance(v, str) else v for k, v in op.attrs().items()}
    attrs = {"layer": op.layer, "phase": op.phase, **own, **{k: a.to_value() for k, a in op.attached.items()}}
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
    """`` {key = value, ...}`` in key order (values wrapped when long), or nothing."""
    shown = {k: v for k, v in attrs.items() if v is not None}
    if not shown:
        return ""
    return " {" + ", ".join(f"{_key(k)} = {pretty(shown[k], 0)}" for k in sorted(shown)) + "}"


def _key(k: str) -> str:
    return k if _KEY.match(k) else json.dumps(k)


def pretty(v: Any, indent: int) -> str:
    """``format_value(v)``, or, when that is longer than :data:`WRAP`, the value broken over lines."""
    flat = format_value(v)
    if len(flat) <= WRAP or not isinstance(v, (list, tuple, dict)) or not v:
        return flat
    pad = " " * (indent + 2)
    if isinstance(v, dict):
        parts = [f"{_key(k)} = {pretty(v[k], indent + 2)}" for k in sorted(v)]
        opening, closing = "{", "}"
    else:
        parts = [pretty(x, indent + 2) for x in v]
        opening, closing = "[", "]"
    return opening + f",\n{pad}".join(_fill(parts, indent + 2)) + closing


def _fill(parts: list[str], indent: int) -> list[str]:
    """Short parts share a line up to :data:`WRAP` characters; a part broken over lines stands alone."""
    lines: list[str] = []
    line = ""
    for part in parts:
        if "\n" in part or (line and indent + len(line) + 2 + len(part) > WRAP):
            if line:
                lines.append(line)
            line = ""
        if "\n" in part:
            lines.append(part)
        else:
            line = f"{line}, {part}" if line else part
    if line:
        lines.append(line)
    return lines


def format_value(v: Any) -> str:
    """One attribute value on one line; parameter references are ``Ref`` strings."""
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
        return "{" + ", ".join(f"{_key(k)} = {format_value(v[k])}" for k in sorted(v)) + "}"
    if hasattr(v, "item"):  # numpy scalar
        return format_value(v.item())
    raise TypeError(f"cannot print attribute value {v!r}")


class Ref(str):
    """A string that names a parameter; printed as ``@name``."""

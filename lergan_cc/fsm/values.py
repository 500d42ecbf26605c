"""Operand values of the FSM assembly and their one canonical spelling.

The printer and the emit-fsm templates both spell values through :func:`fmt`, so that
emitted text and re-printed text are byte-identical (the round trip of ``docs/ISA.md``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_BARE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*\Z")
SIGIL = {"buf": "%", "param": "@", "mat": "$", "table": "&"}
SIGIL_KIND = {v: k for k, v in SIGIL.items()}


class Sym(str):
    """A bare word: an enumerator (``fwd``, ``Cmode``), a bank or tile (``B1.T3``), a wire kind."""


@dataclass(frozen=True)
class Ref:
    """A named storage: ``%buffer`` (BArray/SArray), ``@param`` (host memory, sidecar), ``$matrix`` (crossbars);
    or ``&table``, an instruction table (``rows=&name``)."""

    kind: str  # buf | param | mat | table
    name: str


@dataclass(frozen=True)
class Prog:
    """``<start,step,count>``: the positions ``start + step*j`` for ``j < count``."""

    start: int
    step: int
    count: int

    def values(self) -> list[int]:
        return list(range(self.start, self.start + self.step * self.count, self.step)) if self.step > 0 else \
            [self.start + self.step * j for j in range(self.count)]


@dataclass(frozen=True)
class Win:
    """``a j + seq``: the operand index read by tap number ``t`` at loop counter ``j`` is ``a*j + seq[t]``."""

    a: int
    seq: Prog | tuple[int, ...]


Value = int | float | str | Sym | Ref | Prog | Win | tuple[int, ...] | list  # list: of Values


def seq(values: list[int] | tuple[int, ...]) -> Prog | tuple[int, ...]:
    """The compact form of an integer sequence: a progression when it is one (any length >= 1)."""
    v = [int(x) for x in values]
    if len(v) >= 2 and all(v[i + 1] - v[i] == v[1] - v[0] for i in range(len(v) - 1)):
        return Prog(v[0], v[1] - v[0], len(v))
    if len(v) == 1:
        return Prog(v[0], 1, 1)
    return tuple(v)


def seq_values(s: Prog | tuple[int, ...]) -> list[int]:
    return s.values() if isinstance(s, Prog) else list(s)


def fmt_name(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name)


def fmt(v: Value) -> str:
    """The canonical text of a value."""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, Sym):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Ref):
        return SIGIL[v.kind] + fmt_name(v.name)
    if isinstance(v, Prog):
        return f"<{v.start},{v.step},{v.count}>"
    if isinstance(v, Win):
        return f"{v.a}j+{fmt(v.seq)}"
    if isinstance(v, tuple):
        return "(" + ",".join(str(x) for x in v) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    raise TypeError(f"not an FSM value: {v!r}")


def fmt_pairs(pairs: dict[str, Value]) -> str:
    """`` key=value key=value`` (leading space when not empty)."""
    return "".join(f" {k}={fmt(v)}" for k, v in pairs.items())


def fmt_shape(shape: tuple[int, ...] | list[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def json_str(s: str) -> str:
    return json.dumps(s)

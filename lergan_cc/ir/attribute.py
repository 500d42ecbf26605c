"""Typed pass attributes: the base record, where one sits, and a strict reader for its textual form.

A pass never stores a loose dict on an op or the graph: it attaches a frozen :class:`Attr`. Each
attribute class has a key (its name in the ``.lir`` text), prints itself as a tree of plain values
(numbers, strings, lists, dicts — spelled by ``lergan_cc.ir.printer``), parses itself back from that
tree, and verifies its own invariants against the op and graph it sits on. The verifier runs every
attribute's ``verify`` after every pass.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

if TYPE_CHECKING:
    from lergan_cc.ir.graph import Graph
    from lergan_cc.ir.ops import Op
    from lergan_cc.targets.hw import Hardware

T = TypeVar("T")


class AttrError(ValueError):
    """An attribute's text that does not parse, or an attribute that breaks its invariants (one line)."""


@dataclass(frozen=True)
class Site:
    """Where an attribute sits: the graph, its op (``None`` for a graph attribute), and the machine when
    the caller has one (a placement is checked against the tiles and crossbars it names)."""

    g: Graph
    op: Op | None = None
    hw: Hardware | None = None

    @property
    def the_op(self) -> Op:
        if self.op is None:
            raise AttrError("an op attribute outside an op")
        return self.op


class Attr:
    """A typed, frozen record a pass attaches. Subclasses are frozen dataclasses."""

    key: ClassVar[str]
    scope: ClassVar[str] = "op"  # "op" or "graph"

    def to_value(self) -> Any:
        """The attribute as a tree of plain values (what the printer spells)."""
        raise NotImplementedError

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        """The attribute from its parsed tree; :class:`AttrError` when it does not fit."""
        raise NotImplementedError

    def verify(self, site: Site) -> None:
        """Raise :class:`AttrError` on a broken invariant."""

    @classmethod
    def belongs(cls, op: Op) -> bool:
        """Whether ``op`` carries this attribute once the pass that provides it has run."""
        return True


class Fields:
    """Typed, strict access to a parsed dict: every key read once, none unknown, types checked."""

    def __init__(self, value: Any, what: builtins.str) -> None:
        if not isinstance(value, builtins.dict):
            raise AttrError(f"{what}: expected {{...}}, got {_show(value)}")
        self.value, self.what, self.seen = value, what, set[builtins.str]()

    def _get(self, key: builtins.str) -> Any:
        if key not in self.value:
            raise AttrError(f"{self.what}: missing '{key}'")
        self.seen.add(key)
        return self.value[key]

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self.value

    def int(self, key: builtins.str, low: builtins.int = 0) -> builtins.int:
        return as_int(self._get(key), f"{self.what}.{key}", low)

    def bool(self, key: builtins.str) -> builtins.bool:
        v = self._get(key)
        if not isinstance(v, builtins.bool):
            raise AttrError(f"{self.what}.{key}: expected true or false, got {_show(v)}")
        return v

    def float(self, key: builtins.str) -> builtins.float:
        v = self._get(key)
        if isinstance(v, builtins.bool) or not isinstance(v, (builtins.int, builtins.float)) or not math.isfinite(v):
            raise AttrError(f"{self.what}.{key}: expected a finite number, got {_show(v)}")
        return float(v)

    def str(self, key: builtins.str, choices: Iterable[builtins.str] | None = None) -> builtins.str:
        v = self._get(key)
        options = tuple(choices) if choices is not None else None
        if not isinstance(v, builtins.str) or (options is not None and v not in options):
            expected = f"one of {', '.join(repr(c) for c in options)}" if options else "a string"
            raise AttrError(f"{self.what}.{key}: expected {expected}, got {_show(v)}")
        return v

    def ints(self, key: builtins.str, low: builtins.int = 0) -> tuple[builtins.int, ...]:
        return tuple(as_int(x, f"{self.what}.{key}", low) for x in self.list(key))

    def list(self, key: builtins.str) -> builtins.list[Any]:
        v = self._get(key)
        if not isinstance(v, builtins.list):
            raise AttrError(f"{self.what}.{key}: expected [...], got {_show(v)}")
        return v

    def each(self, key: builtins.str, parse: Callable[[Any, builtins.str], T]) -> tuple[T, ...]:
        return tuple(parse(x, f"{self.what}.{key}[{i}]") for i, x in enumerate(self.list(key)))

    def dict(self, key: builtins.str) -> builtins.dict[builtins.str, Any]:
        v = self._get(key)
        if not isinstance(v, builtins.dict):
            raise AttrError(f"{self.what}.{key}: expected {{...}}, got {_show(v)}")
        return v

    def done(self) -> None:
        extra = sorted(set(self.value) - self.seen)
        if extra:
            raise AttrError(f"{self.what}: unknown key '{extra[0]}'")


def as_int(v: Any, what: str, low: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise AttrError(f"{what}: expected an integer, got {_show(v)}")
    if v < low:
        raise AttrError(f"{what}: expected an integer >= {low}, got {v}")
    return v


def as_ints(v: Any, what: str, low: int = 0) -> tuple[int, ...]:
    if not isinstance(v, list):
        raise AttrError(f"{what}: expected [...], got {_show(v)}")
    return tuple(as_int(x, what, low) for x in v)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."

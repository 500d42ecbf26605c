"""What every pass is: a name, typed options (its dataclass fields), a declared contract, and ``run``.

A pass *requires* attributes that earlier passes attach and *provides* its own (onnx-ir's
``requires``/``ensures``). The pass manager checks a whole pipeline against these contracts before
running it, so an order that cannot work is one line naming the missing attribute and the pass that
provides it, never a crash inside a pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Self

from lergan_cc.ir.attribute import Attr

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext
    from lergan_cc.ir.graph import Graph
    from lergan_cc.options import Options


class Pass(ABC):
    """A pass; subclasses are frozen dataclasses whose fields are the pass's options."""

    name: ClassVar[str]
    requires: ClassVar[tuple[type[Attr], ...]] = ()
    provides: ClassVar[tuple[type[Attr], ...]] = ()

    @classmethod
    def from_options(cls, options: Options) -> Self:
        """The pass configured from the compile options (passes without options ignore them)."""
        return cls()

    def precondition(self, g: Graph) -> str | None:
        """Why this pass cannot run on ``g`` beyond its attribute contract (``None``: it can)."""
        return None

    @abstractmethod
    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        """Transform ``g`` (in place or into a new graph) and return it."""


def available(g: Graph) -> set[type[Attr]]:
    """The attribute classes ``g`` carries wherever they belong (what later passes may rely on)."""
    from lergan_cc.ir.attrs import GRAPH_ATTRS, OP_ATTRS

    have = {cls for cls in GRAPH_ATTRS.values() if g.get(cls) is not None}
    ops = list(g.ops())
    for cls in OP_ATTRS.values():
        owners = [op for op in ops if cls.belongs(op)]
        if owners and all(op.get(cls) is not None for op in owners):
            have.add(cls)
    return have


def missing_on(g: Graph, cls: type[Attr]) -> str | None:
    """The first op that should carry ``cls`` but does not (``None`` when all do)."""
    if cls.scope == "graph":
        return None if g.get(cls) is not None else f"model '{g.model}'"
    for op in g.ops():
        if cls.belongs(op) and op.get(cls) is None:
            return f"op '{op.name}'"
    return None

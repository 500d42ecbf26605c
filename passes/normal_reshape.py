"""The pass ``normal-reshape``: the PRIME-like baseline, one im2col matrix per layer over the zero-inserted input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.ir.attrs import Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.mapping.reshape import reshape_all
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


@dataclass(frozen=True)
class NormalReshape(Pass):
    name: ClassVar[str] = "normal-reshape"
    provides = (Reshape,)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        return reshape_all(g, None)

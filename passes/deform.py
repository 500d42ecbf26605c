"""The pass ``deform``: ZARA-style computational deformation (polyphase sub-kernels, DAC 2019).

Ops that need a zero-free interface are split into S^d sub-kernels applied to the
undilated input, outputs interleaved; the zeros they still multiply at the borders are
kept (``padded`` kinds). Other ops keep the normal mapping.
"""

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
class Deform(Pass):
    name: ClassVar[str] = "deform"
    provides = (Reshape,)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        return reshape_all(g, "deform")

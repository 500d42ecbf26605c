"""The pass ``zfdr``: LerGAN's Zero-Free Data Reshaping (ZFDR_T and ZFDR_WS, paper §IV-A).

Conv ops whose interface is ZFDR_T or ZFDR_WS get their kinds (Corner / Edge / Inside
matrices with reuse, coverage and index maps); the other conv ops and the dense layers
keep the normal one-matrix mapping (the paper's *DataMapping*).
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
class Zfdr(Pass):
    name: ClassVar[str] = "zfdr"
    provides = (Reshape,)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        return reshape_all(g, "zfdr")

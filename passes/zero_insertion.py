"""The pass ``zero-insertion``: per conv layer and phase, the zeros a zero-inserted mapping stores and multiplies.

Attaches to every conv op its ``zero_insertion`` figures (paper Eqs 5-10, DESIGN §8 fields, one
sample, all channels) and its ``zfdr_summary`` (what ZFDR would make of it: kinds by class,
max reuse, MMV rounds with one copy of each kind against rounds without ZFDR), whichever
reshaping scheme the pipeline goes on to apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.ir.attrs import ZeroInsertionFigures, ZfdrSummary
from lergan_cc.ir.conv import conv_geometry, figures, plan
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import _Conv
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


@dataclass(frozen=True)
class ZeroInsertion(Pass):
    name: ClassVar[str] = "zero-insertion"
    provides = (ZeroInsertionFigures, ZfdrSummary)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        for op in list(g.ops()):
            if isinstance(op, _Conv):
                geometry = conv_geometry(g, op)
                g.update(op, ZeroInsertionFigures.of(figures(geometry)), ZfdrSummary.of(plan("zfdr", geometry)))
        return g

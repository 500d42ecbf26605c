"""The pass ``zero-insertion``: per conv layer and phase, the zeros a zero-inserted mapping stores and multiplies.

Annotates every conv op with ``zero_insertion`` (paper Eqs 5-10, DESIGN §8 fields, one
sample, all channels) and ``zfdr_summary`` (what ZFDR would make of it: kinds by class,
max reuse, MMV rounds with one copy of each kind against rounds without ZFDR), whichever
reshaping scheme the pipeline goes on to apply.
"""

from __future__ import annotations

from typing import ClassVar

from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.passes._reshape import annotate, conv_geometry, conv_ops
from lergan_cc.zerofree import analyze, zfdr

SUMMARY_FIELDS = ("kinds", "corner", "edge", "inside", "max_reuse", "rounds", "rounds_without")


class ZeroInsertion:
    name: ClassVar[str] = "zero-insertion"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        for op in conv_ops(g):
            geometry = conv_geometry(g, op)
            stats = zfdr(geometry).stats().as_dict()
            annotate(g, op, "zero_insertion", analyze(geometry).as_dict())
            annotate(g, g.op(op.name), "zfdr_summary", {k: stats[k] for k in SUMMARY_FIELDS})
        return g

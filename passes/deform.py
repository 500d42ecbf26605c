"""The pass ``deform``: ZARA-style computational deformation (polyphase sub-kernels, DAC 2019).

Ops that need a zero-free interface are split into S^d sub-kernels applied to the
undilated input, outputs interleaved; the zeros they still multiply at the borders are
kept (``padded`` kinds). Other ops keep the normal mapping.
"""

from __future__ import annotations

from typing import ClassVar

from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.passes._reshape import reshape_all
from lergan_cc.zerofree import deform


class Deform:
    name: ClassVar[str] = "deform"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        return reshape_all(g, deform)

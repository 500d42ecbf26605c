"""The pass ``normal-reshape``: the PRIME-like baseline, one im2col matrix per layer over the zero-inserted input."""

from __future__ import annotations

from typing import ClassVar

from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.passes._reshape import reshape_all


class NormalReshape:
    name: ClassVar[str] = "normal-reshape"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        return reshape_all(g, None)

"""The pass ``zfdr``: LerGAN's Zero-Free Data Reshaping (ZFDR_T and ZFDR_WS, paper §IV-A).

Conv ops whose interface is ZFDR_T or ZFDR_WS get their kinds (Corner / Edge / Inside
matrices with reuse, coverage and index maps); the other conv ops and the dense layers
keep the normal one-matrix mapping (the paper's *DataMapping*).
"""

from __future__ import annotations

from typing import ClassVar

from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.passes._reshape import reshape_all
from lergan_cc.zerofree import zfdr


class Zfdr:
    name: ClassVar[str] = "zfdr"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        return reshape_all(g, zfdr)

"""The pass ``place-htree``: the PRIME-like baseline placement on plain H-tree banks.

Phases go to the banks of Fig. 13 (so both targets are compared on the same banks), and inside
a bank every copy is packed first fit in layer order, with no alignment between banks: on
``htree-2d`` there are no vertical wires to align to.
"""

from __future__ import annotations

from typing import ClassVar

from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.passes._placement import (
    annotate,
    check_placed,
    hardware,
    layer_key,
    layer_order,
    matrix_ops,
    new_banks,
    part_size,
    pending,
    phases_present,
    place_anywhere,
)


class PlaceHtree:
    name: ClassVar[str] = "place-htree"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        hw = hardware(options)
        ops = matrix_ops(g)
        banks = new_banks(hw, phases_present(ops))
        rank = {key: i for i, key in enumerate(layer_order(ops))}
        entries = []
        for phase, bank in banks.items():
            mine = sorted((op for op in ops if op.phase == phase), key=lambda op: rank[layer_key(op)])
            demand = sum(part_size(hw, op) for op in mine)
            for op in mine:
                queue = pending(hw, op)
                entries += place_anywhere(bank, queue)
                check_placed(hw, queue, bank, phase, op.layer, demand)
        return annotate(g, "htree-2d", banks, entries)

"""The pass ``place-htree``: the PRIME-like baseline placement on plain H-tree banks.

Phases go to the banks of Fig. 13 (so both targets are compared on the same banks), and inside
a bank every copy is packed first fit in layer order, with no alignment between banks: on
``htree-2d`` there are no vertical wires to align to. Sample-parallel copies (``data-parallel``)
follow one another, shard by shard, each a whole copy of the phase's network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.ir.attrs import Placement, PlacementSummary, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.mapping.banks import Entry, Machine, attach_placement, check_placed, pending, place_anywhere
from lergan_cc.mapping.matrices import layer_key, layer_order, matrix_ops, part_size, phases_present
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


@dataclass(frozen=True)
class PlaceHtree(Pass):
    name: ClassVar[str] = "place-htree"
    requires = (Reshape, Replicas)
    provides = (Placement, PlacementSummary)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        hw = ctx.hw
        ops = matrix_ops(g)
        machine = Machine(hw, g, ops)
        rank = {key: i for i, key in enumerate(layer_order(ops))}
        entries: list[Entry] = []
        for phase in phases_present(ops):
            mine = sorted((op for op in ops if op.phase == phase), key=lambda op: rank[layer_key(op)])
            demand = sum(part_size(hw, op) for op in mine)
            for shard in range(machine.shards(phase)):
                bank = machine.bank(phase, shard)
                for op in mine:
                    queue = pending(hw, op, shard)
                    entries += place_anywhere(bank, queue)
                    check_placed(queue, bank, phase, op.layer, demand)
        return attach_placement(g, "htree-2d", {p: machine.phase_banks(p) for p in phases_present(ops)}, entries)

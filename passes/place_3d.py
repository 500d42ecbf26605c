"""The pass ``place-3d``: phases on the banks of a 3DCU pair, layers vertically aligned (Fig. 13, 14).

Phases go to banks as Fig. 13 (G_fwd B1, G_wgrad B2, G_err B3, D_fwd B4, D_wgrad B5, D_err B6).
Inside a 3DCU, a layer's parts (its forward, weight-gradient and error ops) get one *window*
that starts at the same crossbar offset, hence the same tile, in the three banks. The largest
part fills the window; every smaller part is split and spread over the same tiles in proportion
to the largest part's share of each tile (Fig. 14 (a): each piece computes the partial results
of the piece above or below it). Replicas are copies of the split kernel, so a middle/high
degree duplicates after splitting (Fig. 14 (b)). The next layer's window starts after the
furthest part. Should the aligned windows run out of room, the rest is packed into any free
crossbars of the bank (first fit), still in its bank.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.ir.attrs import Placement, PlacementSummary, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.mapping.banks import (
    Bank,
    Entry,
    Machine,
    Pending,
    attach_placement,
    check_placed,
    fill,
    pending,
    place_anywhere,
)
from lergan_cc.mapping.matrices import SIDE, layer_key, layer_order, matrix_ops, part_size, phases_present
from lergan_cc.pass_base import Pass
from lergan_cc.targets.hw import Hardware

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


def spread(bank: Bank, queue: deque[Pending], start: int, shares: dict[int, int], total: int,
           size: int) -> list[Entry]:
    """Put ``size`` crossbars of ``queue`` on the tiles of ``shares`` (tile -> crossbars of the largest
    part, ``total`` in all), each tile getting its proportion, from the window start on."""
    entries: list[Entry] = []
    given, seen = 0, 0
    for tile, share in sorted(shares.items()):
        seen += share
        quota = math.ceil(size * seen / total) - given
        lo = max(start, tile * bank.per_tile)
        placed = fill(bank, queue, lo, (tile + 1) * bank.per_tile, quota)
        given += sum(c.crossbars for _, c in placed)
        entries += placed
    return entries


class OpParts:
    """What every shard's placement of an op reads, computed once per op: its crossbars (every copy of
    every matrix) and its copies to place (a -dp point places each op once per shard)."""

    def __init__(self, hw: Hardware, ops: list[Op]) -> None:
        self.size = {op.name: part_size(hw, op) for op in ops}
        self._copies = {op.name: tuple(pending(hw, op)) for op in ops}

    def queue(self, op: Op, shard: int) -> deque[Pending]:
        return deque(Pending(c.op, c.kind, c.replica, c.total, c.cs, 0, shard) for c in self._copies[op.name])


def place_layer(banks: dict[str, Bank], parts: dict[str, list[Op]], of: OpParts, demand: dict[str, int],
                shard: int = 0) -> list[Entry]:
    """One layer's parts (copy ``shard`` of each) on one 3DCU: the largest part first, the others spread
    under/over it."""
    start = max(b.high for b in banks.values())
    sizes = {p: sum(of.size[op.name] for op in ops) for p, ops in parts.items()}
    order = sorted(parts, key=lambda p: -sizes[p])
    entries: list[Entry] = []
    shares: Counter[int] = Counter()
    for i, phase in enumerate(order):
        bank = banks[phase]
        for op in parts[phase]:
            queue = of.queue(op, shard)
            if i > 0 and shares:
                placed = spread(bank, queue, start, shares, sizes[order[0]], of.size[op.name])
            else:
                placed = fill(bank, queue, start, bank.capacity)
                for _, c in placed:
                    shares[c.tile_index] += c.crossbars
            placed += place_anywhere(bank, queue, start)
            check_placed(queue, bank, phase, op.layer, demand[phase])
            entries += placed
    return entries


@dataclass(frozen=True)
class Place3d(Pass):
    name: ClassVar[str] = "place-3d"
    requires = (Reshape, Replicas)
    provides = (Placement, PlacementSummary)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        hw = ctx.hw
        ops = matrix_ops(g)
        machine = Machine(hw, g, ops)
        phases = phases_present(ops)
        of = OpParts(hw, ops)
        demand = {p: sum(of.size[op.name] for op in ops if op.phase == p) for p in phases}
        entries: list[Entry] = []
        for shard in range(max((machine.shards(p) for p in phases), default=1)):
            for key in layer_order(ops):  # copy by copy: each a whole network, its layers in windows
                parts: dict[str, list[Op]] = {}
                for op in ops:
                    if layer_key(op) == key and shard < machine.shards(op.phase):
                        parts.setdefault(op.phase, []).append(op)
                side = {p: machine.bank(p, shard) for p in parts if SIDE[p] == key[0]}
                if parts:
                    entries += place_layer(side, parts, of, demand, shard)
        return attach_placement(g, "lergan-3d", {p: machine.phase_banks(p) for p in phases}, entries)

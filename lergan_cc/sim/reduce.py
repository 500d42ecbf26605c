"""What sample-parallel copies must exchange: a gradient's partial sums (``reduce``), batch statistics.

``reduce mode=tree``: the partials are summed pairwise, level by level (partial ``i + s`` into partial
``i`` for ``s = 1, 2, 4, …``): the partial travels the route between the two homes and is added in
flight by the bypassable adder of the node where the route turns (its node closest to the root; the
destination tile when both sit on one tile). Pairs of one level use disjoint routes where the
topology has them, so a level costs about one transfer; ``log2 K`` levels. ``mode=home``: every partial
travels to partial 0's home and is added there by the tile's peripherals, one after another: the
transfers converge on one tile's links.

Batch statistics over a sharded batch (``bn``/``bn_grad`` with ``sync=global``) reduce each copy's
per-channel sums (two values per channel) the same way up a tree and broadcast the result back down.
"""

from __future__ import annotations

import math

from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Ref
from lergan_cc.sim.costs import Context, Cost
from lergan_cc.sim.places import Places
from lergan_cc.sim.wires import shortest, transfer

TaskSpec = tuple[str, Cost, list[str], list[str]]  # (label, cost, names read, names written in part)


def reduce_tasks(ins: Instr, ctx: Context, places: Places) -> list[TaskSpec]:
    dst = ins.operands["dst"]
    assert isinstance(dst, Ref)
    k = ctx.layout.pieces(dst.name)
    if k == 1:
        return []
    piece = [ctx.layout.piece_name(dst.name, p) for p in range(k)]
    homes = [places.home_of(dst.name, p) for p in range(k)]
    nbytes, elements = ctx.nbytes(dst), ctx.elements(dst)
    if str(ins.operands["mode"]) == "home":
        return [(f"reduce {piece[j]}->{piece[0]}", _combine(ctx, places, homes[j], homes[0], nbytes, elements, False),
                 [piece[j], piece[0]], [piece[0]]) for j in range(1, k)]
    out = []
    for i, j in tree_pairs(k):
        cost = _combine(ctx, places, homes[j], homes[i], nbytes, elements, True)
        out.append((f"reduce {piece[j]}->{piece[i]}", cost, [piece[j], piece[i]], [piece[i]]))
    return out


def sync_tasks(ins: Instr, ctx: Context, places: Places) -> list[TaskSpec]:
    """Whole-batch statistics of a sharded batch norm: per-channel sums up a tree and back down."""
    dst = ins.operands["dst"]
    assert isinstance(dst, Ref)
    k = ctx.layout.pieces(dst.name)
    if k == 1:
        return []
    channels = ctx.buffers[dst.name].shape[0]
    values = 2 * channels
    nbytes = values * ctx.value_bits // 8
    piece = [ctx.layout.piece_name(dst.name, p) for p in range(k)]
    homes = [places.home_of(dst.name, p) for p in range(k)]
    up = [(f"sync {piece[j]}->{piece[i]}", _combine(ctx, places, homes[j], homes[i], nbytes, values, True),
           [piece[j], piece[i]], [piece[i]]) for i, j in tree_pairs(k)]
    down = [(f"sync {piece[i]}->{piece[j]}", _combine(ctx, places, homes[i], homes[j], nbytes, 0, False),
             [piece[i]], [piece[j]]) for i, j in reversed(tree_pairs(k))]
    return up + down


def tree_pairs(k: int) -> list[tuple[int, int]]:
    """(into, from) pairs level by level: 1->0, 3->2, … then 2->0, 6->4, … (``ceil(log2 k)`` levels)."""
    out = []
    for level in range(math.ceil(math.log2(k))):
        stride = 1 << level
        out += [(i, i + stride) for i in range(0, k, 2 * stride) if i + stride < k]
    return out


def _combine(ctx: Context, places: Places, src: str, dst: str, nbytes: int, elements: int, in_network: bool) -> Cost:
    """Move ``nbytes`` from ``src`` to ``dst`` and add ``elements`` values: on the adder of the route's turning
    node (in flight, one word of latency) or, at the destination, by its tile's peripherals."""
    hw = ctx.hw
    links = shortest(places.topo, src, dst, places.mode(src, dst))
    move = transfer(places.topo, links, nbytes)
    if not elements:
        return move
    adds = {"alu": elements * hw.interconnect.adder_pj_per_add}
    if in_network and links:
        node = min((n for link in links for n in (link.src, link.dst) if ".L" in n),
                   key=lambda n: places.topo.nodes[n].level, default=None)
        if node is not None:
            return move.add(Cost(hw.interconnect.adder_ns, adds, (f"adder:{node}",)))
    words = ctx.words(elements)
    ns = 2 * hw.tile.read_ns + hw.tile.write_ns + 2 * words * hw.io_cycle_ns
    adds["buffers"] = words * (2 * hw.tile.read_pj + hw.tile.write_pj)
    return move.add(Cost(ns, adds, (f"tile:{dst}",)))

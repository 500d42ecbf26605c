"""Banks as crossbar allocators, and the placement records they produce.

A copy is placed slice by slice: one slice never straddles two tiles, a copy may (it is then listed
as several :class:`Copy` pieces, each with its first slice ``row_start`` and its ``row_slices``;
slices are counted group-major, so slice ``s`` is group ``s // ceil(rows / crossbar_rows)``).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import Copy, DataParallel, Placement, PlacementSummary
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.mapping.matrices import bank_budget, bank_of, copies_of, matrices, matrix_ops, part_size, phases_present
from lergan_cc.targets.hw import Hardware

Entry = tuple[str, Copy]  # (op name, one placed piece)


@dataclass
class Pending:
    """A copy still (partly) to place."""

    op: str
    kind: int
    replica: int
    total: int  # row slices
    cs: int  # crossbars per row slice
    done: int = 0
    shard: int = 0


@dataclass
class Bank:
    """Free crossbar ranges of one bank, in bank offsets (tile = offset // per_tile), never crossing a tile."""

    name: str
    tiles: int
    per_tile: int
    free: list[list[int]] = field(default_factory=list)
    high: int = 0  # one past the highest crossbar allocated

    def __post_init__(self) -> None:
        self.free = [[t * self.per_tile, (t + 1) * self.per_tile] for t in range(self.tiles)]

    @property
    def capacity(self) -> int:
        return self.tiles * self.per_tile

    def take(self, n: int, cs: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """Up to ``n`` slices of ``cs`` crossbars, first fit in [lo, hi): (offset, slices) pieces.

        Each free range that was there when called is tried once, in order; the free list is sorted and
        disjoint, so the walk starts at the first range ending after ``lo`` (a bisection: a -dp point
        takes ~10^5 times from lists of hundreds of ranges)."""
        out: list[tuple[int, int]] = []
        free = self.free
        i = bisect.bisect_right(free, lo, key=itemgetter(1))  # ranges' ends, sorted like the ranges
        while n and i < len(free) and free[i][0] < hi:
            a, b = free[i]
            start, end = max(a, lo), min(b, hi)
            k = min(n, (end - start) // cs) if end > start else 0
            if not k:
                i += 1
                continue
            out.append((start, k))
            n -= k
            stop = start + k * cs
            rest = [r for r in ([a, start], [stop, b]) if r[1] > r[0]]
            free[i:i + 1] = rest
            i += len(rest)
            self.high = max(self.high, stop)
        return out

    def tile(self, offset: int) -> int:
        return offset // self.per_tile


def fill(bank: Bank, queue: deque[Pending], lo: int, hi: int, budget: float = math.inf) -> list[Entry]:
    """Place queued copies in [lo, hi) of ``bank`` until ``budget`` crossbars are used or room runs out."""
    entries: list[Entry] = []
    while queue and budget > 0:
        c = queue[0]
        want = c.total - c.done if budget == math.inf else min(c.total - c.done, max(1, math.ceil(budget / c.cs)))
        pieces = bank.take(want, c.cs, lo, hi)
        if not pieces:
            break
        for offset, k in pieces:
            entries.append((c.op, Copy.on_tile(c.kind, c.replica, bank.name, bank.tile(offset), offset % bank.per_tile,
                                               k * c.cs, c.done, k, c.cs, c.shard)))
            c.done += k
            budget -= k * c.cs
        if c.done == c.total:
            queue.popleft()
    return entries


def pending(hw: Hardware, op: Op, shard: int = 0) -> deque[Pending]:
    """Every copy of ``op`` for one sample-parallel shard, kind by kind, replica by replica."""
    q: deque[Pending] = deque()
    for m, n in zip(matrices(op), copies_of(op), strict=True):
        rs, cs = hw.matrix_slices(m.shape)
        q.extend(Pending(op.name, m.kind, r, rs, cs, shard=shard) for r in range(n))
    return q


def place_anywhere(bank: Bank, queue: deque[Pending], lo: int = 0) -> list[Entry]:
    """From ``lo`` to the bank's end, then any gap left before it (first fit)."""
    return fill(bank, queue, lo, bank.capacity) + fill(bank, queue, 0, bank.capacity)


def check_placed(queue: deque[Pending], bank: Bank, phase: str, layer: str, demand: int) -> None:
    """One line when a part did not fit: phase, bank, layer, shortfall, and what would help."""
    if not queue:
        return
    left = sum((c.total - c.done) * c.cs for c in queue)
    short = max(left, demand - bank.capacity)
    raise LerganError(f"capacity exceeded: phase {phase} does not fit bank {bank.name}: layer {layer} is "
                      f"{short} crossbars short ({demand} needed by the phase, {bank.capacity} in a bank of "
                      f"{bank.tiles} tiles x {bank.per_tile}); try a lower --replica or a larger --hw")


def new_banks(hw: Hardware, phases: Iterable[str]) -> dict[str, Bank]:
    return {p: Bank(bank_of(p), hw.tiles_per_bank, hw.crossbars_per_tile) for p in phases}


class Machine:
    """Every bank of the machine as an allocator, and which bank holds each phase's shard ``s``: its own bank
    (Fig. 13) for as many copies as that holds, then the spare banks ``data-parallel`` gave it."""

    def __init__(self, hw: Hardware, g: Graph, ops: list[Op]) -> None:
        self.hw, self.g = hw, g
        self.banks = {f"B{b}": Bank(f"B{b}", hw.tiles_per_bank, hw.crossbars_per_tile) for b in range(1, hw.banks + 1)}
        self.dp = g.get(DataParallel)
        self.per_bank = {p: max(1, bank_budget(hw, mine) // max(1, sum(part_size(hw, op) for op in mine)))
                         for p in phases_present(ops) for mine in [[op for op in ops if op.phase == p]]}

    def shards(self, phase: str) -> int:
        return self.dp.of(phase) if self.dp else 1

    def bank(self, phase: str, shard: int) -> Bank:
        spill = self.dp.spill.get(phase, ()) if self.dp else ()
        index = shard // self.per_bank[phase] if spill else 0
        return self.banks[([bank_of(phase), *spill])[min(index, len(spill))]]

    def phase_banks(self, phase: str) -> tuple[str, ...]:
        spill = self.dp.spill.get(phase, ()) if self.dp else ()
        return (bank_of(phase), *spill)


def attach_placement(g: Graph, target: str, phase_banks: dict[str, tuple[str, ...]], entries: list[Entry]) -> Graph:
    """``placement`` on every matrix op and the placement summary on the graph."""
    by_op: dict[str, list[Copy]] = {}
    for name, c in entries:
        by_op.setdefault(name, []).append(c)
    for op in matrix_ops(g):
        copies = sorted(by_op.get(op.name, []), key=lambda c: (c.kind, c.shard, c.replica, c.row_start))
        g.update(op, Placement(bank_of(op.phase), tuple(copies)))
    in_order = sorted(phase_banks.items(), key=lambda pb: int(pb[1][0][1:]))
    g.attach(PlacementSummary(target, dict(in_order), sum(c.crossbars for _, c in entries),
                              len({c.tile for _, c in entries})))
    return g

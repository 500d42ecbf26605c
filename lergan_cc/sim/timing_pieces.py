"""The units of a peripheral instruction on a sharded buffer placed as a batch, for the fast timing path:
what ``Timing._instr`` does unit by unit, with the same result.

A peripheral op (``act``, ``bias``, ``bn_grad``, ``zero``, … : ``costs.PERIPHERAL``) on a buffer cut into
shards has one unit per shard, at its piece's home tile, on that tile's peripherals, after the moves of the
operand pieces that are not on that tile yet. When no unit touches a name another unit writes (and none
reads what another adds to), a unit's data are ready when they were before the instruction, whatever the
other units do: so the units go in order, each with its moves and then its task on its own tile's wires
(``lanes.occupy``), and what they change in the names' readiness, their rows and the pieces' new places are
recorded after the last one. Otherwise, or when a unit would hold crossbars, the caller places the units one
by one (nothing has been changed: those checks come first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lergan_cc.fsm.program import Instr
from lergan_cc.sim.costs import PART_WRITES, READS, WRITES
from lergan_cc.sim.lanes import occupy
from lergan_cc.sim.layout import Unit

if TYPE_CHECKING:
    from lergan_cc.sim.timing_fast import FastTiming


def place_pieces(tm: FastTiming, ins: Instr, units: list[Unit], group: int, op: int, label: int) -> bool:
    """Place ``units`` of peripheral op ``ins`` as a batch; ``False`` (nothing placed) when they are coupled."""
    sites = [tm.places.site(ins, u) for u in units]
    if None in sites:
        return False
    reads = [tm._ids(ins, u, READS, read=True) for u in units]
    writes = [tm._ids(ins, u, WRITES) for u in units]
    parts = [tm._ids(ins, u, PART_WRITES) for u in units]
    if not _independent(reads, writes, parts):
        return False
    costs = [tm.cost(ins, u) for u in units]  # a peripheral op carries nothing (Places.carry): its static cost
    resources = [c.resources + ((f"{c.unit}:{s}",) if c.unit else ()) for c, s in zip(costs, sites, strict=True)]
    split = [tm.split(r) for r in resources]
    if any(x for _, x in split):  # crossbars: Lanes.place's other branch
        return False
    _place(tm, ins, units, sites, reads, writes, parts, [c.ns for c in costs], [w for w, _ in split], group, op,
           label, [tm.rows.cost_id(c) for c in costs], [tm.res_code(r) for r in resources])
    return True


def _independent(reads: list[list[int]], writes: list[list[int]], parts: list[list[int]]) -> bool:
    """Whether no unit reads, writes or adds to a name another unit writes, and none reads what another adds to
    (part-writes of the same name by several units commute: each raises its readiness to its end)."""
    owner: dict[int, int] = {}
    for i, ws in enumerate(writes):
        for n in ws:
            if owner.setdefault(n, i) != i:
                return False
    added: dict[int, int] = {}
    for i, ps in enumerate(parts):
        for n in ps:
            if owner.get(n, i) != i:
                return False
            if added.setdefault(n, i) != i:
                added[n] = -1  # several units add to it
    for i, rs in enumerate(reads):
        for n in rs:
            if owner.get(n, i) != i or added.get(n, i) != i:
                return False
    return True


def _place(tm: FastTiming, ins: Instr, units: list[Unit], sites: list[str | None], reads: list[list[int]],
           writes: list[list[int]], parts: list[list[int]], ns: list[float], wires: list[tuple[int, ...]], group: int,
           op: int, label: int, cost_ids: list[int], res: list[int]) -> None:
    """Each unit's moves (``Places.before``, placed as ``Timing._instr`` places them), then ``Lanes.place`` of its
    task on its own wires; the names' readiness and the pieces' places after all of them."""
    lanes, arrival, places = tm.lanes, tm.arrival, tm.places
    lines_of = lanes.lines_of
    start, keys = [], []
    for unit, site, r, w, p, d, ws in zip(units, sites, reads, writes, parts, ns, wires, strict=True):
        after = tm.operands_at(ins, site, unit, r, group)
        keys.append(tm._next())
        t = max(after, lanes.ready(r, w, p))
        start.append(occupy(lines_of(ws), t, d) if d > 0 else t)
    begin = np.array(start)
    end = begin + np.array(ns)
    for r, w, p, e in zip(reads, writes, parts, end.tolist(), strict=True):
        lanes.record(r, w, p, e)
        for n in w:
            arrival.pop(n, None)
    tm.rows.add_many(key=np.array(keys), group=group, op=op, start=begin, end=end, cost=np.array(cost_ids),
                     res=np.array(res), mat=-1, label=label)
    for site, unit in zip(sites, units, strict=True):
        moved = places.after(ins, site, unit)  # the results' new places
        assert not moved, "only an mmv's result moves after it"


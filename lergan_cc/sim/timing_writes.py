"""Programming crossbars from the host, for the fast timing path: what ``Timing._instr`` (a ``write`` from a
param, copy by copy) and ``Timing._fanout`` (a multicast to sample-parallel copies, per bank and replica)
do, with every cost computed once per distinct key instead of once per copy.

The tasks still go one by one through the list scheduler — the weights of all copies stream over the
same wires, so each task's place depends on the ones before it — but a task is a few lookups: its
copy's crossbars, the route's cached cost and resources, the merged cost of the copy's cells and the
stream (the same cost objects, so the same floats, as the event-by-event model builds per copy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Ref
from lergan_cc.sim import timing as event
from lergan_cc.sim.costs import Cost
from lergan_cc.sim.layout import Unit
from lergan_cc.sim.places import bank_of_tile
from lergan_cc.sim.timing_bulk import tm_tiles
from lergan_cc.sim.wires import multicast, shortest, transfer
from lergan_cc.targets.geometry import HOST

if TYPE_CHECKING:
    from lergan_cc.sim.timing_fast import FastTiming


def _weight_bytes(tm: FastTiming, mat: str) -> int:
    g, rows, cols = tm.ctx.matrices[mat].shape
    return g * rows * cols * tm.hw.precision.weight_bits // 8


def _cached(tm: FastTiming, key: tuple, make: Callable[..., Cost], *args: Any) -> Cost:
    """``make(*args)``, once per key (keys hold ids of cached costs only: those stay alive)."""
    cache = tm.__dict__.setdefault("_write_costs", {})
    c = cache.get(key)
    if c is None:
        c = cache[key] = make(*args)
    return c


def _route(tm: FastTiming, src: str, dst: str, nbytes: int) -> Cost:
    return transfer(tm.topo, shortest(tm.topo, src, dst, "Smode"), nbytes)


def place_param_writes(tm: FastTiming, ins: Instr, group: int) -> None:
    """A ``write`` of a param's weights into every copy of a matrix, one stream per copy (``Places._weights``:
    over the bus the first time the param reaches a bank in this state, else from the bank's port)."""
    o, layout, places, rows = ins.operands, tm.layout, tm.places, tm.rows
    mat, param = _name(o["mat"]), _name(o["src"])
    tiles = tm_tiles(tm, mat)
    base = tm.cost(ins, Unit(0, 0, layout.batch, 0))
    nbytes = _weight_bytes(tm, mat)
    multicast_ok = str(o.get("fanout", "multicast")) == "multicast"
    costs, wires, res = [], [], []
    first = tm.names.mat[mat]
    for i, site in enumerate(tiles):
        bank = bank_of_tile(site)
        if (param, bank) in places.programmed and multicast_ok:
            port = f"{bank}.L0.n0"
            carried = _cached(tm, ("port", port, site, nbytes), _route, tm, port, site, nbytes)
        else:
            places.programmed.add((param, bank))
            carried = tm.move_cost(HOST, site, nbytes, False)
        costs.append(_cached(tm, ("merged", id(base), id(carried)), event._merge, base, carried, True))
        w = tm.split(carried.resources)[0]
        wires.append(w)
        res.append(rows.res_code((first + i, *w)))
    members = np.arange(len(tiles))
    _place_writes(tm, ins, group, param, mat, members, members, costs, wires, res, first + members)


def place_fanout(tm: FastTiming, ins: Instr, group: int) -> None:
    """``Timing._fanout``: per bank and replica (in order of the first copy), one task writes the copies."""
    o, layout, rows, places = ins.operands, tm.layout, tm.rows, tm.places
    mat, param = _name(o["mat"]), _name(o["src"])
    plan = _fanout_plan(tm, mat)
    base = tm.cost(ins, Unit(0, 0, layout.batch, 0))
    nbytes = _weight_bytes(tm, mat)
    programmed = places.programmed
    # _stream's bus: to the first group of each bank that the param has not reached in this state
    bus_of = {bank: None if (param, bank) in programmed else tm.move_cost(HOST, port, nbytes, False)
              for bank, port in plan.banks}
    programmed.update((param, bank) for bank, _ in plan.banks)
    key = (id(base), mat, tuple(id(bus) for bus in bus_of.values()))
    done = tm.__dict__.setdefault("_fanouts", {})
    tasks = done.get(key)
    if tasks is None:
        costs, wires, res = [], [], []
        for bank, port, ids, distinct, first_of_bank in plan.groups:
            bus = bus_of[bank] if first_of_bank else None
            tree = _cached(tm, ("multicast", port, distinct, nbytes), multicast, tm.topo,
                           [shortest(tm.topo, port, t, "Smode") for t in distinct], nbytes)
            stream = _cached(tm, ("stream", id(bus) if bus is not None else None, id(tree)), (bus or Cost()).add, tree)
            cells = _cached(tm, ("cells", id(base), len(ids)), _cells, base, len(ids))
            w = tm.split(stream.resources)[0]
            costs.append(_cached(tm, ("fanout", id(cells), id(stream)), event._merge, cells, stream, True))
            wires.append(w)
            res.append(rows.res_code((*ids, *w)))
        tasks = done[key] = (costs, wires, res)
    costs, wires, res = tasks
    _place_writes(tm, ins, group, param, mat, plan.member, plan.task, costs, wires, res, np.full(len(costs), -1))


class _Plan:
    """A matrix's fan-out groups: per group (bank, its port, its copies' ids, their distinct tiles, whether it
    is the bank's first), every copy's group, and the banks (with their ports) in order of first group."""

    def __init__(self, tm: FastTiming, mat: str) -> None:
        copies = tm.layout.copies[mat]
        tiles = tm_tiles(tm, mat)
        bank_ids: dict[str, int] = {}
        bank = np.array([bank_ids.setdefault(b, len(bank_ids)) for b, _ in copies.places], dtype=np.int64)
        code = bank * copies.replicas + np.arange(copies.count) % copies.replicas
        _, firsts, which = np.unique(code, return_index=True, return_inverse=True)
        rank = np.empty(len(firsts), dtype=np.int64)
        rank[np.argsort(firsts, kind="stable")] = np.arange(len(firsts))  # groups in order of their first copy
        task = rank[which.ravel()]
        self.member = np.argsort(task, kind="stable")
        self.task = task[self.member]
        sizes = np.bincount(task, minlength=len(firsts)).tolist()
        members = self.member.tolist()
        ids = (self.member + tm.names.mat[mat]).tolist()
        self.groups: list[tuple[str, str, tuple[int, ...], tuple[str, ...], bool]] = []
        ports: dict[str, str] = {}
        at = 0
        for size in sizes:
            mine = members[at:at + size]
            b = bank_of_tile(tiles[mine[0]])
            fresh = b not in ports
            if fresh:
                ports[b] = f"{b}.L0.n0"
            self.groups.append((b, ports[b], tuple(ids[at:at + size]), tuple(dict.fromkeys([tiles[i] for i in mine])),
                                fresh))
            at += size
        self.banks = list(ports.items())


def _fanout_plan(tm: FastTiming, mat: str) -> _Plan:
    cache = tm.__dict__.setdefault("_fanout_plans", {})
    plan = cache.get(mat)
    if plan is None:
        plan = cache[mat] = _Plan(tm, mat)
    return plan


def _place_writes(tm: FastTiming, ins: Instr, group: int, param: str, mat: str, member: np.ndarray, task: np.ndarray,
                  costs: list[Cost], wires: list[tuple[int, ...]], res: list[int], mats: np.ndarray) -> None:
    """Tasks that each write copies ``member[task == k]`` of ``mat`` from ``param`` over ``wires[k]``: in
    program order through the scheduler, their data (the param, their copies) and crossbars looked at once."""
    lanes, rows = tm.lanes, tm.rows
    reads = tm.names.param[param]
    x = tm.names.mat[mat] + member
    ns = np.array([c.ns for c in costs])
    firsts = np.flatnonzero(np.concatenate(([True], task[1:] != task[:-1])))
    data = np.maximum.reduceat(lanes.ready_many([np.full(len(x), reads)], [x], [], np.zeros(len(x))), firsts)
    label, op = rows.labels(event._label(ins)), rows.ops("write")
    if not lanes.free_at(data[task], ns[task], x).all():  # a crossbar still busy: one by one, as the model does
        for k in range(len(costs)):
            ids = x[task == k].tolist()
            s, e = lanes.place(costs[k].ns, wires[k], tuple(ids), [reads], ids, [])
            rows.add(tm._next(), group, op, s, e, rows.cost_id(costs[k]), res[k], int(mats[k]), label)
        return
    start = np.array(lanes.chain(data.tolist(), ns.tolist(), wires))
    end = start + ns
    lanes.commit_many(start[task], end[task], ns[task], x, [np.full(len(x), reads)], [x], [])
    keys = np.arange(tm.seq, tm.seq + len(costs))
    tm.seq += len(costs)
    rows.add_many(key=keys, group=group, op=op, start=start, end=end, cost=[rows.cost_id(c) for c in costs],
                  res=res, mat=mats, label=label)


def _cells(base: Cost, n: int) -> Cost:
    """The cell writes of ``n`` copies, summed as ``Timing._fanout`` sums them (its ``ns``: one copy's)."""
    cells = Cost()
    for _ in range(n):
        cells = cells.add(Cost(0.0, base.energy, (), crossbars=base.crossbars))
    return Cost(base.ns, cells.energy, ())


def _name(v: object) -> str:
    assert isinstance(v, Ref)
    return v.name

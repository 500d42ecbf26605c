"""The units of one ``mmv`` (or ``write`` from a buffer) placed as a batch: what ``Timing._instr`` does
unit by unit, with the same result.

The units are the copies of the matrix (shard ``s``, replica ``r``: copy ``s * replicas + r``, the order
``Layout.units`` gives). A unit reads its copy and the pieces of the source that hold its shard's
samples, writes (``write``) its copy or fills (``mmv``) its part of the destination's piece, and holds
its copy's crossbars alone. What couples the units is only the implicit moves: a source piece not yet
on the unit's tile is moved there first (``Places.before``: once per piece and tile, so the first unit
of each (piece, samples, tile) decides), and an ``mmv`` whose copy is away from its destination piece's
home sends its part home (``Places.after``). So:

1. the moves are decided once per distinct (piece, samples, tile), in unit order;
2. the units with a move are placed one by one in unit order, each with its moves, exactly as
   ``Timing._instr`` does (their moves share wires);
3. every other unit holds only its crossbars and names that no unit of the batch writes in full, so
   its start is the later of its data's ready time and the arrival of its pieces on its tile (the
   last move there before it, or what was there before the instruction) — computed for all of them at
   once — unless its crossbars are still busy then (placed one by one, as step 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lergan_cc.fsm.copies import Rect, loop_nest, replica_rect, replica_shapes
from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Ref, Win
from lergan_cc.shards import shard_ranges
from lergan_cc.sim import timing as event
from lergan_cc.sim.costs import Cost
from lergan_cc.sim.lanes import fit, occupy
from lergan_cc.sim.layout import Unit
from lergan_cc.sim.places import Move
from lergan_cc.sim.rows import Interner
from lergan_cc.targets.geometry import HOST

if TYPE_CHECKING:
    from lergan_cc.sim.timing_fast import FastTiming


@dataclass
class Batch:
    """The units of one instruction as arrays, with what each unit reads."""

    shard: np.ndarray
    replica: np.ndarray  # the unit's share of the loop nest (mmv), else 0
    copy: np.ndarray
    shards: list[tuple[int, int]]  # (first sample, samples) per shard
    shapes: list[tuple[int, ...]]  # per replica: its share of the loop nest's positions per axis (mmv), else [()]
    nest: Rect | None = None  # the mmv's loop nest, shared among ``replicas`` (``split_rect``)
    replicas: int = 1

    def __len__(self) -> int:
        return len(self.copy)

    def unit(self, i: int) -> Unit:
        s, r = int(self.shard[i]), int(self.replica[i])
        part = replica_rect(self.nest, self.replicas, r) if self.nest is not None else None
        return Unit(s, *self.shards[s], int(self.copy[i]), part)


def batch_of(tm: FastTiming, ins: Instr) -> Batch | None:
    """The units of ``ins`` as a batch, when it is an ``mmv`` or a ``write`` from a buffer whose sources
    and destination are distinct buffers; else ``None``."""
    o = ins.operands
    src = o.get("src")
    if not isinstance(src, Ref) or src.kind != "buf":
        return None
    c = tm.layout.copies[_name(o["mat"])]
    shards = shard_ranges(tm.layout.batch, c.shards)
    if ins.op == "mmv":
        dst = o["dst"]
        if not isinstance(dst, Ref) or dst.kind != "buf" or dst.name == src.name:
            return None
        nest = Rect(tuple(loop_nest(o["rect"])), tuple(_wins(o["win"])))
        shapes = replica_shapes(tuple(p.count for p in nest.ranges), c.replicas)
        shard = np.repeat(np.arange(c.shards), len(shapes))
        replica = np.tile(np.arange(len(shapes)), c.shards)
        return Batch(shard, replica, shard * c.replicas + replica, shards, shapes, nest, c.replicas)
    if ins.op == "write":
        copy = np.arange(c.count)
        return Batch(copy // c.replicas, np.zeros(c.count, dtype=np.int64), copy, shards, [()])
    return None


def place_batch(tm: FastTiming, ins: Instr, b: Batch, group: int) -> None:
    o, layout, names, places, lanes, rows = ins.operands, tm.layout, tm.names, tm.places, tm.lanes, tm.rows
    mat, src = _name(o["mat"]), o["src"]
    assert isinstance(src, Ref)
    mmv = ins.op == "mmv"
    op, label = rows.ops(ins.op), rows.labels(event._label(ins))
    xbar = names.mat[mat] + b.copy
    tiles = tm_tiles(tm, mat)
    site = [tiles[c] for c in b.copy.tolist()]

    # costs per distinct (shape of the replica's share of the loop nest, samples): the cost functions' values
    shape = Interner()
    shape_of = np.array([shape(counts) for counts in b.shapes])
    key = shape_of[b.replica] * (layout.batch + 1) + np.array([n for _, n in b.shards])[b.shard]
    cost_ids, ns = np.empty(len(b), dtype=np.int64), np.empty(len(b))
    out_bytes: dict[int, int] = {}  # key -> bytes of the unit's result
    for k in sorted(set(key.tolist())):  # (np.unique would import numpy.ma: 7 ms of a timing-only run)
        same = key == k
        unit = b.unit(int(np.argmax(same)))
        c = tm.cost(ins, unit)
        cost_ids[same], ns[same] = rows.cost_id(c), c.ns
        if mmv:
            out_bytes[k] = places._mmv_out_bytes(ins, unit)

    # what each shard reads (Places.pieces_read) and, for an mmv, where its result piece lives
    reads, rows_of_shard = _reads(tm, ins, src, b.shards)
    width = rows_of_shard.shape[1]
    piece = rows_of_shard[b.shard]  # units x width, padded with the first piece
    dst, dst_piece, home = "", np.zeros(len(b), dtype=np.int64), []  # an mmv's result: piece per unit, home per shard
    if mmv:
        dst = _name(o["dst"])
        dst_piece = np.array([names.piece(dst, s) for s in range(len(b.shards))])[b.shard]
        home = [places.home_of(dst, s) for s in range(len(b.shards))]

    # every unit's data ready time (nothing the batch does changes it)
    x_reads = [xbar] if mmv else []
    unit_ready = lanes.ready_many(x_reads + [piece[:, j] for j in range(width)], [] if mmv else [xbar],
                                  [dst_piece] if mmv else [], np.zeros(len(b)))

    # a unit's rows: its moves (at most one per piece it reads), its task, its result's move home
    stride = width + 2
    base, tm.seq = tm.seq, tm.seq + stride * len(b)
    moves = _decide_moves(tm, ins, b, reads, site)
    tile_ids = {t: i for i, t in enumerate(dict.fromkeys(site))}
    site_code = np.array([tile_ids[t] for t in site], dtype=np.int64)
    away: set[int] = set()
    if mmv:  # a unit away from its result piece's home
        home_code = np.array([tile_ids.get(h, -1) for h in home], dtype=np.int64)
        away = set(np.flatnonzero(home_code[b.shard] != site_code).tolist())
    linked = sorted(set(moves) | away)

    # pieces' arrival on the free units' tiles before the instruction (the linked units change it)
    before = _arrivals(tm, piece, site_code, list(tile_ids))
    events = _place_linked(tm, b, linked, moves, away, reads, piece, site, tile_ids, xbar, unit_ready, ns, cost_ids,
                           out_bytes, key, dst_piece, home, dst if mmv else None, base, stride, width, group, op, label)
    if mmv:  # Places.after: the result pieces are at home now
        for s in range(len(b.shards)):
            piece_label = layout.piece_name(dst, s)
            places.loc[piece_label] = {home[s]}
            places.part.pop(piece_label, None)
    free = np.ones(len(b), dtype=bool)
    free[linked] = False
    _place_free(tm, np.flatnonzero(free), before, events, piece, site_code, xbar, unit_ready, ns, cost_ids, dst_piece,
                mmv, base + width + stride * np.flatnonzero(free), group, op, label)


def _place_linked(tm: FastTiming, b: Batch, linked: list[int], moves: dict[int, list[Move]], away: set[int],
                  reads: list[list[tuple[int, int, int]]], piece: np.ndarray, site: list[str],
                  tile_ids: dict[str, int], xbar: np.ndarray, unit_ready: np.ndarray, ns: np.ndarray,
                  cost_ids: np.ndarray, out_bytes: dict[int, int], key: np.ndarray, dst_piece: np.ndarray,
                  home: list[str], dst: str | None, base: int, stride: int, width: int, group: int, op: int,
                  label: int) -> list[tuple[int, int, int, float]]:
    """The units with moves, in unit order: each unit's moves over their wires, its task (its crossbars are
    free, its data ready at ``unit_ready``), its result's move home (``dst`` given: an mmv). What they change
    in the names' readiness is written after the last one: no unit of the batch reads it (the destination's
    readiness, which a result's move home waits for, is looked up once per shard)."""
    if not linked:
        return []
    lanes, rows, names, layout = tm.lanes, tm.rows, tm.names, tm.layout
    arrival, by_piece, lines_of = tm.arrival, names.by_piece, lanes.lines_of
    full, parts, readers, t0, xlast = lanes.full, lanes.parts, lanes.readers, lanes.t0, lanes.xlast
    move_op = tm.move_op
    mmv = dst is not None
    move_rows: list[tuple[int, int, float, float, int, int, int, int]] = []  # a row per move before a unit
    read_names: list[int] = []  # a move before a unit reads its piece
    read_ends: list[float] = []
    events: list[tuple[int, int, int, float]] = []  # (piece, tile code, unit, when it arrived)
    task_start: list[float] = []
    task_end: list[float] = []
    home_unit: list[int] = []  # the units whose result moved home, and that move's row
    home_start: list[float] = []
    home_end: list[float] = []
    home_cost: list[int] = []
    home_res: list[int] = []
    home_label: list[int] = []
    home_name: list[int] = []

    known: dict[int, tuple[list, int, int, float]] = {}  # id(cost) -> (wires' timelines, cost id, resource code, ns)

    def on_wires(t: float, c: Cost) -> tuple[float, int, int, float]:
        """``Lanes.place`` of a move whose data are ready at ``t``: its start, the cost's row codes (the costs
        live in ``tm``'s caches: their ids stay theirs) and its length."""
        got = known.get(id(c))
        if got is None:
            got = known[id(c)] = (lines_of(tm.split(c.resources)[0]), rows.cost_id(c), tm.res_code(c.resources), c.ns)
        lines, cid, res, d = got
        if d > 0:
            t = occupy(lines, t, d)
        return t, cid, res, d

    # per shard: an mmv result's piece, when it may be written (nothing in the batch changes it), its row label, its
    # arrivals, its home
    shard_home: dict[int, tuple[int, float, int, dict[str, float], str]] = {}
    home_moves: dict[tuple[str, int, int], tuple[list, int, int, float]] = {}  # (tile, shard, key) -> on_wires' data
    shard_l, xbar_l, key_l = b.shard.tolist(), xbar.tolist(), key.tolist()
    ready_l, ns_l = unit_ready.tolist(), ns.tolist()
    seen_after: dict[tuple[int, str], float] = {}  # (shard, tile) -> the latest arrival there of the pieces it reads
    for i in linked:
        s, here, x = shard_l[i], site[i], xbar_l[i]
        ukey = base + stride * i
        mv_list = moves.get(i, ())
        akey = (s, here)
        after = seen_after.get(akey) if not mv_list else None
        if after is None:
            after = max([arrival.get(p, {}).get(here, 0.0) for p in piece[i, :len(reads[s])].tolist()])
            if not mv_list:
                seen_after[akey] = after
        if mmv:
            after = max(arrival.get(x, {}).get(here, 0.0), after)
        for j, mv in enumerate(mv_list):
            name = by_piece[mv.label]
            t, cid, res, d = on_wires(max(arrival.get(name, {}).get(mv.src, 0.0),
                                          max(t0, full.item(name), parts.item(name))), mv.cost)
            end = t + d
            arrival.setdefault(name, {})[mv.dst] = end
            move_rows.append((ukey + j, move_op, end - d, end, cid, res, tm.move_label(mv.label), -1))
            read_names.append(name)
            read_ends.append(end)
            events.append((name, tile_ids[mv.dst], i, end))
            after = max(after, end)
            seen_after.clear()  # an arrival changed
        start = max(after, ready_l[i])
        d = ns_l[i]
        if d > 0 and xlast.item(x) > start:  # its crossbars: free, mostly (Lanes.slot)
            start = fit(start, d, [lanes.xline(x)])
        end = start + d
        task_start.append(start)
        task_end.append(end)
        if i in away and dst is not None:
            got = shard_home.get(s)
            if got is None:
                dst_label = layout.piece_name(dst, s)
                name = by_piece[dst_label]
                got = shard_home[s] = (name, max(t0, full.item(name), readers.item(name)), tm.move_label(dst_label),
                                       arrival.setdefault(name, {}), home[s])
            name, rdy, mlabel, arrived, home_tile = got
            hk = (here, s, key_l[i])
            wire = home_moves.get(hk)
            if wire is None:  # on_wires' lookups, once per (tile, shard, result size)
                c = tm.move_cost(here, home_tile, out_bytes[hk[2]], False)
                wire = home_moves[hk] = (lines_of(tm.split(c.resources)[0]), rows.cost_id(c), tm.res_code(c.resources),
                                         c.ns)
            lines, cid, res, d = wire
            t = end if end >= rdy else rdy  # max(end, rdy)
            if d > 0:
                t = occupy(lines, t, d)
            arrived[home_tile] = t + d
            home_unit.append(ukey + width + 1)
            home_start.append(t)
            home_end.append(t + d)
            home_cost.append(cid)
            home_res.append(res)
            home_label.append(mlabel)
            home_name.append(name)

    idx = np.array(linked)
    x_ids = xbar[idx]
    t_start, t_end = np.array(task_start), np.array(task_end)
    lanes.commit_many(t_start, t_end, ns[idx], x_ids,
                      ([x_ids] if mmv else []) + [piece[idx, j] for j in range(width)],
                      [] if mmv else [x_ids], [dst_piece[idx]] if mmv else [])
    if read_names:
        np.maximum.at(readers, np.array(read_names), np.array(read_ends))
    ends = [float(t_end.max())]
    if home_name:
        h_end = np.array(home_end)
        np.maximum.at(parts, np.array(home_name), h_end)
        ends.append(float(h_end.max()))
        rows.add_many(key=np.array(home_unit), group=group, op=move_op, start=np.array(home_start), end=h_end,
                      cost=np.array(home_cost), res=np.array(home_res), label=np.array(home_label), mat=-1)
    if move_rows:
        cols = [np.array(c) for c in zip(*move_rows, strict=True)]
        ends.append(float(cols[3].max()))
        names_ = ("key", "op", "start", "end", "cost", "res", "label", "mat")
        rows.add_many(group=group, **dict(zip(names_, cols, strict=True)))
    rows.add_many(key=base + stride * idx + width, group=group, op=op, start=t_start, end=t_end,
                  cost=cost_ids[idx], res=x_ids, label=label, mat=x_ids)
    lanes.end = max(lanes.end, max(ends))
    return events


def _reads(tm: FastTiming, ins: Instr, src: Ref, shards: list[tuple[int, int]]
           ) -> tuple[list[list[tuple[int, int, int]]], np.ndarray]:
    """``Places.pieces_read`` of every shard, and the pieces' ids per shard padded with the first one (cached
    per buffer, sharding and whether a host instruction reads: all they depend on)."""
    cache = tm.__dict__.setdefault("_reads", {})
    key = (src.name, tuple(shards), ins.op.startswith("host."))
    got = cache.get(key)
    if got is None:
        places, names = tm.places, tm.names
        reads = [places.pieces_read(ins, src, Unit(s, lo, n)) for s, (lo, n) in enumerate(shards)]
        width = max(len(r) for r in reads)
        name = src.name
        ids = np.array([[names.piece(name, p) for p, _, _ in r] + [names.piece(name, r[0][0])] * (width - len(r))
                        for r in reads])
        got = cache[key] = (reads, ids)
    return got


def _decide_moves(tm: FastTiming, ins: Instr, b: Batch, reads: list[list[tuple[int, int, int]]],
                  site: list[str]) -> dict[int, list[Move]]:
    """``Places.before`` for every unit: only the first unit of each (shard's piece, tile) can need a move."""
    places, layout, ctx = tm.places, tm.layout, tm.ctx
    src = ins.operands["src"]
    assert isinstance(src, Ref)
    shard_mode = layout.pieces(src.name) > 1
    tile_ids = {t: i for i, t in enumerate(dict.fromkeys(site))}
    code = np.array([tile_ids[t] for t in site], dtype=np.int64) * len(b.shards) + b.shard
    out: dict[int, list[Move]] = {}
    _, first = np.unique(code, return_index=True)
    for i in np.sort(first).tolist():
        here = site[i]
        for p, lo, n in reads[int(b.shard[i])]:
            held = places.where(src.name, p)
            label = layout.piece_name(src.name, p)
            if here in held or (here, lo, n) in places.part.get(label, ()):
                continue
            origin = min(held)
            cost = tm.move_cost(origin, here, ctx.nbytes(src, n), shard_mode)
            out.setdefault(i, []).append(Move(label, cost, origin, here))
            whole = n == layout.ranges(src.name)[p][1] or layout.is_grad(src.name)
            if here != HOST and whole:
                places.loc[label] = held | {here}
            elif here != HOST:
                places.part.setdefault(label, set()).add((here, lo, n))
    return out


def _arrivals(tm: FastTiming, piece: np.ndarray, site_code: np.ndarray, tiles: list[str]) -> np.ndarray:
    """``arrival[piece][tile]`` (0.0 when none) for every unit and piece it reads, as things are now."""
    n = len(tiles)
    codes, inverse = np.unique((piece * n + site_code[:, None]).ravel(), return_inverse=True)
    arrival = tm.arrival
    values = np.array([arrival.get(c // n, {}).get(tiles[c % n] or "", 0.0) for c in codes.tolist()])
    return values[inverse.ravel()].reshape(piece.shape)


def _latest(events: list[tuple[int, int, int, float]], piece: np.ndarray, site_code: np.ndarray, units: np.ndarray,
            before: np.ndarray) -> np.ndarray:
    """Per unit in ``units`` and piece it reads: the arrival on its tile after the moves of the earlier units
    of the batch (``events``), else ``before``."""
    if not events:
        return before
    ev = np.array(events)
    tiles = int(max(site_code.max(), ev[:, 1].max())) + 1
    q_code = (piece * tiles + site_code[:, None]).ravel()
    q_unit = np.repeat(units, piece.shape[1])
    e_code = ev[:, 0].astype(np.int64) * tiles + ev[:, 1].astype(np.int64)
    codes = np.concatenate([e_code, q_code])
    order = np.lexsort((np.concatenate([ev[:, 2].astype(np.int64), q_unit]), codes))
    is_event = order < len(ev)
    last = np.maximum.accumulate(np.where(is_event, np.arange(len(order)), -1))
    found = (last >= 0) & (codes[order[np.maximum(last, 0)]] == codes[order])
    value = np.where(found, ev[order[np.maximum(last, 0)] % len(ev), 3] if len(ev) else 0.0, np.nan)
    q_value = np.empty(len(order))
    q_value[order] = value
    got = q_value[len(ev):].reshape(piece.shape)
    return np.where(np.isnan(got), before, got)


def _place_free(tm: FastTiming, free: np.ndarray, before: np.ndarray, events: list, piece: np.ndarray,
                site_code: np.ndarray, xbar: np.ndarray, unit_ready: np.ndarray, ns: np.ndarray, cost_ids: np.ndarray,
                dst_piece: np.ndarray, mmv: bool, keys: np.ndarray, group: int, op: int, label: int) -> None:
    """The units without moves: all at once (step 3 of the module docstring)."""
    if not len(free):
        return
    lanes, rows = tm.lanes, tm.rows
    arrived = _latest(events, piece[free], site_code[free], free, before[free])
    start = np.maximum(np.maximum(arrived.max(axis=1), 0.0), unit_ready[free])
    x = xbar[free]
    for k in np.flatnonzero(~lanes.free_at(start, ns[free], x)).tolist():  # crossbars still busy: their timelines
        start[k] = lanes.slot(float(start[k]), float(ns[free[k]]), (), (int(x[k]),))
    end = start + ns[free]
    lanes.commit_many(start, end, ns[free], x, ([x] if mmv else []) + [piece[free, j] for j in range(piece.shape[1])],
                      [] if mmv else [x], [dst_piece[free]] if mmv else [])
    rows.add_many(key=keys, group=group, op=op, start=start, end=end, cost=cost_ids[free], res=x, mat=x, label=label)


def tm_tiles(tm: FastTiming, mat: str) -> list[str]:
    """Every copy's tile (cached per matrix)."""
    cache = tm.__dict__.setdefault("_tiles", {})
    tiles = cache.get(mat)
    if tiles is None:
        tiles = cache[mat] = [tm.layout.copy_tile(mat, i) for i in range(tm.layout.copies[mat].count)]
    return tiles


def _wins(v: object) -> list[Win]:
    """An ``mmv``'s ``win`` operand (checked by the assembler)."""
    assert isinstance(v, list) and all(isinstance(w, Win) for w in v)
    return v


def _name(v: object) -> str:
    assert isinstance(v, Ref)
    return v.name

"""The timing model without its per-task overhead: the same schedule as :mod:`lergan_cc.sim.timing`,
value for value, at a fraction of the cost.

The event-by-event model (``timing.Timing``) is the definition: per state visit, every unit of every
instruction in program order, its implicit moves, its cost, its place in the list schedule. This one
walks the same states and instructions, calls the same cost functions (``costs``, ``places``,
``reduce``) and places tasks by the same rule (``lanes``), but

- names and resources are integer ids and the data readiness of names sits in arrays (``lanes.Lanes``);
- tasks are rows of columns summed up once at the end (``rows.Rows``), not objects added one by one;
- the units of an ``mmv`` or of a ``write`` from a buffer that need no implicit move — the bulk of
  every program with copies — are placed as one batch (``timing_bulk``): each holds only its own
  copy's crossbars, so its start is its data's ready time unless a crossbar is still busy, and the
  order in which they are placed changes nothing;
- moves, routes, transfers and costs are computed once per distinct key.

Every report field equals the event-by-event one exactly (tests/test_timing_fast.py compares both on
randomised programs; tests/test_schedule_golden.py holds the benchmarks to reports written by the
event-by-event model). A program whose names could alias in the event-by-event model's string names
(a ``#`` in a name, a buffer named like a matrix) is timed by the event-by-event model.
"""

from __future__ import annotations

from typing import Any

from lergan_cc.fsm.program import Instr, Program, State
from lergan_cc.fsm.values import Ref
from lergan_cc.sim import timing as event
from lergan_cc.sim.costs import PART_WRITES, PERIPHERAL, READS, WRITES, Context, Cost, refs, static_cost
from lergan_cc.sim.lanes import Lanes
from lergan_cc.sim.layout import Unit
from lergan_cc.sim.places import Move, Places
from lergan_cc.sim.reduce import reduce_tasks, sync_tasks
from lergan_cc.sim.rows import Interner, Rows, Summary
from lergan_cc.sim.timing_bulk import batch_of, place_batch
from lergan_cc.sim.timing_pieces import place_pieces
from lergan_cc.sim.timing_writes import place_fanout, place_param_writes
from lergan_cc.sim.wires import shortest, transfer

BULK_MIN = 8  # units from which an mmv, a write from a buffer or a peripheral op is placed as a batch


class Names:
    """Integer ids of the scheduler's names: every copy of a matrix, every piece of a buffer, every param."""

    def __init__(self, program: Program, ctx: Context) -> None:
        layout = ctx.layout
        self.mat: dict[str, int] = {}
        self.buf: dict[str, int] = {}
        self.param: dict[str, int] = {}
        n = 0
        for name, c in layout.copies.items():
            self.mat[name], n = n, n + c.count
        self.mats_end = n
        for name in ctx.buffers:
            self.buf[name], n = n, n + layout.pieces(name)
        for name in ctx.params:
            self.param[name], n = n, n + 1
        self.count = n
        self.layout = layout
        self.by_piece = {layout.piece_name(b, p): self.buf[b] + p for b in ctx.buffers for p in range(layout.pieces(b))}
        self.mat_starts = sorted((base, name) for name, base in self.mat.items())

    @staticmethod
    def aliased(program: Program) -> bool:
        """Whether two distinct names of the event-by-event model could be the same string."""
        kinds = [{d.name for d in program.decls if d.kind == k} for k in ("matrix", "buffer", "param")]
        every = [n for names in kinds for n in names]
        return len(set(every)) != len(every) or any("#" in n for n in every)

    def copy(self, mat: str, copy: int) -> int:
        return self.mat[mat] + copy

    def piece(self, buf: str, piece: int) -> int:
        return self.buf[buf] + (piece if self.layout.pieces(buf) > 1 else 0)

    def of(self, ref: Ref) -> int:
        return self.param[ref.name] if ref.kind == "param" else self.buf[ref.name]

    def copy_name(self, i: int) -> str:
        """The event-by-event name of matrix copy ``i``."""
        import bisect

        base, mat = self.mat_starts[bisect.bisect_right(self.mat_starts, (i, "\uffff")) - 1]
        return self.layout.copy_name(mat, i - base)


class FastTiming:
    def __init__(self, program: Program, path: str = "<fsm>", trace: bool = False) -> None:
        self.program = program
        self.hw = program.hardware(path)
        self.topo = program.topology(path)
        self.ctx = Context(program, self.hw)
        self.layout = self.ctx.layout
        self.places = Places(program, self.ctx, self.topo)
        self.names = Names(program, self.ctx)
        self.lanes = Lanes(self.names.count)
        self.rows = Rows(trace)
        self.wires = Interner()  # resource strings other than crossbars; id = names.count + index
        self.xbars: dict[str, int] = {}  # "xbar:<copy>" -> the copy's id
        self.now = 0.0
        self.config: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.switch_count = {b: sum(len(n.switches) for n in self.topo.nodes.values() if f"B{n.bank}" == b)
                             for b in self.topo.banks}
        self.visits = 0
        self.arrival: dict[int, dict[str, float]] = {}  # name -> tile -> when its copy got there
        self.seq = 0
        self.moves: dict[tuple[Any, ...], Cost] = {}
        self.state_moves: dict[tuple[str, str, int, bool], Cost] = {}  # this state's move costs (its modes)
        self.static: dict[tuple[Any, ...], Cost] = {}
        self.resource_ids: dict[tuple[str, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.res_codes: dict[tuple[str, ...], int] = {}
        self.move_labels: dict[str, int] = {}
        self.mmv_op = self.rows.ops("mmv")
        self.move_op = self.rows.ops("move")
        self._record: Any = None

    # ---- ids --------------------------------------------------------------------------------------
    def split(self, resources: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(wire ids, crossbar ids) of a resource tuple; every id in order for the row."""
        out = self.resource_ids.get(resources)
        if out is None:
            ids = [self.xbars[r] if r in self.xbars else self.names.count + self.wires(r) for r in resources]
            out = self.resource_ids[resources] = (tuple(i for i in ids if i >= self.names.count),
                                                  tuple(i for i in ids if i < self.names.count))
        return out

    def res_code(self, resources: tuple[str, ...]) -> int:
        """The row's resource code of a resource tuple (crossbars must be registered, ``xbar``)."""
        code = self.res_codes.get(resources)
        if code is None:
            ids = tuple(self.xbars[r] if r in self.xbars else self.names.count + self.wires(r) for r in resources)
            code = self.res_codes[resources] = self.rows.res_code(ids) if ids else -1 - self.rows.sets(())
        return code

    def move_label(self, piece: str) -> int:
        """The label id of a move of ``piece``."""
        i = self.move_labels.get(piece)
        if i is None:
            i = self.move_labels[piece] = self.rows.labels(f"move %{piece}")
        return i

    def xbar(self, mat: str, copy: int) -> int:
        i = self.names.copy(mat, copy)
        self.xbars.setdefault(f"xbar:{self.layout.copy_name(mat, copy)}", i)
        return i

    def resource_name(self, r: int) -> str:
        return f"xbar:{self.names.copy_name(r)}" if r < self.names.count else self.wires.items[r - self.names.count]

    def resource_class(self, r: int) -> str:
        return "xbar" if r < self.names.count else self.wires.items[r - self.names.count].split(":", 1)[0]

    def _arrived(self, name: int, tile: str | None) -> float:
        return self.arrival.get(name, {}).get(tile or "", 0.0)

    def cost(self, ins: Instr, unit: Unit) -> Cost:
        """``static_cost``, once per instruction and (samples, share of the loop nest, copy): what it depends on
        (``costs.COSTERS``)."""
        key = (id(ins), unit.count, unit.part, unit.copy)
        c = self.static.get(key)
        if c is None:
            c = self.static[key] = static_cost(ins, self.ctx, unit)
        return c

    def _merged(self, base: Cost, carried: Cost, overlap: bool) -> Cost:
        """``Timing._merge``, once per (static cost, carried cost): carried costs come from ``Places``' caches."""
        if not carried.resources and not carried.energy:
            return base
        key = ("merged", id(base), id(carried), overlap)
        cost = self.moves.get(key)
        if cost is None:
            cost = self.moves[key] = event._merge(base, carried, overlap)
            self.moves[("keep", id(carried))] = carried  # its id stays its own
        return cost

    def move_cost(self, src: str, dst: str, nbytes: int, shard: bool) -> Cost:
        """``Places.move``, once per distinct move (and looked up once per state: the modes are the state's)."""
        c = self.state_moves.get((src, dst, nbytes, shard))
        if c is None:
            c = self.state_moves[(src, dst, nbytes, shard)] = self._move_cost(src, dst, nbytes, shard)
        return c

    def _move_cost(self, src: str, dst: str, nbytes: int, shard: bool) -> Cost:
        p = self.places
        mode = p.shard_mode(src, dst) if shard else p.mode(src, dst)
        key = (src, dst, nbytes, mode)
        c = self.moves.get(key)
        if c is None:
            c = self.moves[key] = transfer(self.topo, shortest(self.topo, src, dst, mode), nbytes)
        return c

    # ---- one state -------------------------------------------------------------------------------
    def visit(self, state: State) -> None:
        self.visits += 1
        self.now = self._reconfigure(state)
        self.places.enter({b: str(m) for b, m in state.modes.items()})
        self.state_moves = {}
        self.lanes.begin(self.now)
        layer, phase = state.name, None
        for ins in state.body:
            if ins.op == "layer":
                layer, phase = str(ins.operands["name"]), str(ins.operands["phase"])
                continue
            if ins.op == "barrier":
                self.lanes.t0 = self.lanes.end
                continue
            ph = phase or event.UNMARKED.get(ins.op, event.UNMARKED["host"] if ins.op.startswith("host.") else "other")
            group = self.rows.groups((layer, ph))
            if ins.op == "reduce":
                self._tasks(reduce_tasks(ins, self.ctx, self.places), group)
                continue
            if event._multicast(ins, self.ctx):
                place_fanout(self, ins, group)
                continue
            batch = batch_of(self, ins) if ins.op in ("mmv", "write") else None
            if ins.op == "write" and batch is None and self._copies(ins) >= BULK_MIN:
                place_param_writes(self, ins, group)
            elif batch is not None and len(batch) >= BULK_MIN:
                place_batch(self, ins, batch, group)
            else:
                op, label = self.rows.ops(ins.op), self.rows.labels(event._label(ins))
                units = self.layout.units(ins)
                if not (ins.op in PERIPHERAL and len(units) >= BULK_MIN
                        and place_pieces(self, ins, units, group, op, label)):
                    for unit in units:
                        self._instr(ins, unit, group, op, label)
            if ins.op in ("bn", "bn_grad") and str(ins.operands.get("sync", "")) == "global":
                self._tasks(sync_tasks(ins, self.ctx, self.places), group)
        self.rows.state(state.name, self.now, self.lanes.end)
        self.now = self.lanes.end

    def _copies(self, ins: Instr) -> int:
        return self.layout.copies[_ref(ins.operands["mat"]).name].count

    def _ids(self, ins: Instr, unit: Unit, table: dict[str, tuple[str, ...]], read: bool = False) -> list[int]:
        """``Timing._names`` as ids."""
        out = []
        for ref in refs(ins, table):
            if ref.kind == "mat":
                out.append(self.names.copy(ref.name, unit.copy or 0))
            elif ref.kind == "buf":
                pieces = self.places.pieces_read(ins, ref, unit) if read else [(unit.piece, unit.lo, unit.count)]
                out += [self.names.piece(ref.name, p) for p, _, _ in pieces]
            else:
                out.append(self.names.param[ref.name])
        return out

    def place_move(self, mv: Move, key: int, group: int, before: bool, after: float) -> float:
        """An implicit move: before its unit (it waits for its data at the source) or after (for the unit)."""
        lanes, rows, c = self.lanes, self.rows, mv.cost
        name = self.names.by_piece[mv.label]
        wires, xbars = self.split(c.resources)
        if before:
            _, end = lanes.place(c.ns, wires, xbars, [name], [], [], self._arrived(name, mv.src))
            start = end - c.ns
        else:
            start, end = lanes.place(c.ns, wires, xbars, [], [], [name], after)
        self.arrival.setdefault(name, {})[mv.dst] = end
        rows.add(key, group, self.move_op, start, end, rows.cost_id(c), self.res_code(c.resources), -1,
                 self.move_label(mv.label))
        return end

    def operands_at(self, ins: Instr, site: str | None, unit: Unit, reads: list[int], group: int) -> float:
        """When a unit's operands (``reads``) are at its ``site``: their arrival there, or the end of the moves
        that bring them (``Places.before``, placed now)."""
        after = max((self._arrived(n, site) for n in reads), default=0.0)
        for mv in self.places.before(ins, site, unit):
            after = max(after, self.place_move(mv, self._next(), group, True, 0.0))
        return after

    def _instr(self, ins: Instr, unit: Unit, group: int, op: int, label: int) -> None:
        """``Timing._instr`` for one unit."""
        places, lanes, rows = self.places, self.lanes, self.rows
        site = places.site(ins, unit)
        reads = self._ids(ins, unit, READS, read=True)
        after = self.operands_at(ins, site, unit, reads, group)
        if ins.op in ("setmode", "setswitch"):
            cost = self._config_instr(ins)
        else:
            cost = self._merged(self.cost(ins, unit), places.carry(ins, site, unit), ins.op == "write")
        if ins.op in ("mmv", "write"):
            self.xbar(_ref(ins.operands["mat"]).name, unit.copy or 0)
        resources = cost.resources + ((f"{cost.unit}:{site}",) if cost.unit and site else ())
        writes = self._ids(ins, unit, WRITES)
        parts = self._ids(ins, unit, PART_WRITES)
        if ins.op == "xfer":
            if "from" in ins.operands:
                src = self.names.of(_ref(ins.operands["src"]))
                after = max(after, self._arrived(src, str(ins.operands["from"])))
            if ins.operands["dst"] == ins.operands["src"]:
                writes = []
        wires, xbars = self.split(resources)
        start, end = lanes.place(cost.ns, wires, xbars, reads, writes, parts, after)
        for n in writes:
            self.arrival.pop(n, None)
        if site and ins.op == "xfer":
            name = self.names.piece(_ref(ins.operands["dst"]).name, unit.piece)
            self.arrival.setdefault(name, {})[site] = end
        mat = self.names.copy(_ref(ins.operands["mat"]).name, unit.copy or 0) if ins.op in ("mmv", "write") else -1
        rows.add(self._next(), group, op, start, end, rows.cost_id(cost), self.res_code(resources), mat, label)
        for mv in places.after(ins, site, unit):
            self.place_move(mv, self._next(), group, False, end)

    def _tasks(self, tasks: list[tuple[str, Cost, list[str], list[str]]], group: int) -> None:
        for label, cost, reads, parts in tasks:
            wires, xbars = self.split(cost.resources)
            by = self.names.by_piece
            start, end = self.lanes.place(cost.ns, wires, xbars, [by[n] for n in reads], [], [by[n] for n in parts])
            self.rows.add(self._next(), group, self.rows.ops(label.split(" ", 1)[0]), start, end,
                          self.rows.cost_id(cost), self.res_code(cost.resources), -1, self.rows.labels(label))

    def _next(self) -> int:
        self.seq += 1
        return self.seq - 1

    # ---- reconfiguration: as in the event-by-event model ---------------------------------------------
    def _reconfigure(self, state: State) -> float:
        self.config, changed = event.reconfigured(state, self.config, self.switch_count)
        if not changed:
            return self.now
        ic = self.hw.interconnect
        cost = Cost(ic.switch_ns, {"switches": changed * ic.switch_pj})
        rows = self.rows
        rows.add(self._next(), rows.groups(("(reconfigure)", "config")), rows.ops("config"), self.now,
                 self.now + cost.ns, rows.cost_id(cost), self.res_code(("switches",)), -1,
                 rows.labels(f"{changed} switches"))
        return self.now + cost.ns

    def _config_instr(self, ins: Instr) -> Cost:
        self.config, cost = event.config_instr(ins, self.config, self.switch_count, self.places, self.hw)
        return cost

    # ---- the figures ------------------------------------------------------------------------------------
    @property
    def record(self) -> Any:
        if self._record is None:
            self._record = Summary(self.rows, self.names.count, self.wires.items, self.resource_name)
        return self._record


ENGINES = ("fast", "event")


def make_timing(program: Program, path: str = "<fsm>", trace: bool = False,
                engine: str = "fast") -> FastTiming | event.Timing:
    """The timing model: ``fast`` (this module, unless the program's names could alias) or ``event``."""
    if engine not in ENGINES:
        raise ValueError(f"timing engine '{engine}': expected one of {', '.join(ENGINES)}")
    if engine == "event" or Names.aliased(program):
        return event.Timing(program, path, trace)
    return FastTiming(program, path, trace)


def _ref(v: object) -> Ref:
    assert isinstance(v, Ref)
    return v





"""The timing and energy model: cost every state the FSM visits and schedule it (DESIGN §7).

Per state visit: reconfigure the banks' modes and switches that differ from the previous state,
then list-schedule the body (``schedule.Scheduler``): every instruction with its static cost
(``costs``), the moves its operands need and the route it takes (``places``). States follow each
other: the controller enters the next state when the last instruction of this one has finished.
The same model runs beside the functional simulator or alone (``--timing-only``); it never reads
a tensor, so both give the same times and energies.
"""

from __future__ import annotations

from lergan_cc.fsm.program import Instr, Program, State
from lergan_cc.fsm.values import Ref
from lergan_cc.sim.costs import PART_WRITES, READS, WRITES, Context, Cost, refs, static_cost
from lergan_cc.sim.layout import Unit
from lergan_cc.sim.places import Move, Places
from lergan_cc.sim.record import Recorder, Task
from lergan_cc.sim.reduce import reduce_tasks, sync_tasks
from lergan_cc.sim.schedule import Scheduler
from lergan_cc.targets.hw import Hardware

UNMARKED = {"write": "program", "host": "host"}  # phase of instructions before any `layer` marker


class Timing:
    def __init__(self, program: Program, path: str = "<fsm>", trace: bool = False) -> None:
        self.program = program
        self.hw = program.hardware(path)
        self.topo = program.topology(path)
        self.ctx = Context(program, self.hw)
        self.places = Places(program, self.ctx, self.topo)
        self.costs: dict[tuple[int, Unit], Cost] = {}
        self.units: dict[int, list[Unit]] = {}
        self.record = Recorder(self.ctx, trace)
        self.now = 0.0
        self.config: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.switch_count = {b: sum(len(n.switches) for n in self.topo.nodes.values() if f"B{n.bank}" == b)
                             for b in self.topo.banks}
        self.visits = 0
        self.arrival: dict[str, dict[str, float]] = {}  # buffer -> tile -> when its copy got there

    def _arrived(self, name: str, tile: str | None) -> float:
        return self.arrival.get(name, {}).get(tile or "", 0.0)

    def cost(self, ins: Instr, unit: Unit) -> Cost:
        key = (id(ins), unit)
        c = self.costs.get(key)
        if c is None:
            c = self.costs[key] = static_cost(ins, self.ctx, unit)
        return c

    def units_of(self, ins: Instr) -> list[Unit]:
        u = self.units.get(id(ins))
        if u is None:
            u = self.units[id(ins)] = self.ctx.layout.units(ins)
        return u

    # ---- one state -------------------------------------------------------------------------------
    def visit(self, state: State) -> None:
        self.visits += 1
        self.now = self._reconfigure(state)
        modes = {b: str(m) for b, m in state.modes.items()}
        self.places.enter(modes)
        sched = Scheduler(self.now)
        layer, phase = state.name, None
        for ins in state.body:
            if ins.op == "layer":
                layer, phase = str(ins.operands["name"]), str(ins.operands["phase"])
                continue
            if ins.op == "barrier":
                sched.t0 = sched.end
                continue
            ph = phase or UNMARKED.get(ins.op, UNMARKED["host"] if ins.op.startswith("host.") else "other")
            if ins.op == "reduce":
                self._tasks(reduce_tasks(ins, self.ctx, self.places), sched, state.name, layer, ph)
                continue
            if _multicast(ins, self.ctx):
                self._fanout(ins, sched, state.name, layer, ph)
                continue
            for unit in self.units_of(ins):
                self._instr(ins, unit, sched, state.name, layer, ph)
            if ins.op in ("bn", "bn_grad") and str(ins.operands.get("sync", "")) == "global":
                self._tasks(sync_tasks(ins, self.ctx, self.places), sched, state.name, layer, ph)
        self.record.state(state.name, self.now, sched.end)
        self.now = sched.end

    def _names(self, ins: Instr, unit: Unit, table: dict[str, tuple[str, ...]], read: bool = False) -> list[str]:
        """The scheduler's names a unit reads or writes: its buffer pieces, its matrix copy."""
        out = []
        for ref in refs(ins, table):
            if ref.kind == "mat":
                out.append(self.ctx.layout.copy_name(ref.name, unit.copy or 0))
            elif ref.kind == "buf":
                pieces = self.places.pieces_read(ins, ref, unit) if read else [(unit.piece, unit.lo, unit.count)]
                out += [self.ctx.layout.piece_name(ref.name, p) for p, _, _ in pieces]
            else:
                out.append(ref.name)
        return out

    def _instr(self, ins: Instr, unit: Unit, sched: Scheduler, state: str, layer: str, phase: str) -> None:
        places = self.places
        site = places.site(ins, unit)
        reads = self._names(ins, unit, READS, read=True)
        after = max((self._arrived(n, site) for n in reads), default=0.0)
        for mv in places.before(ins, site, unit):
            _, end = sched.place(mv.cost.ns, mv.cost.resources, [mv.label], [], [],
                                 self._arrived(mv.label, mv.src))
            self.record.task(Task(state, layer, phase, "move", f"move %{mv.label}", mv.cost, *_span(sched, end, mv)))
            self.arrival.setdefault(mv.label, {})[mv.dst] = end
            after = max(after, end)
        if ins.op in ("setmode", "setswitch"):
            cost = self._config_instr(ins)
        else:
            base = self.cost(ins, unit)
            carried = places.carry(ins, site, unit)
            cost = _merge(base, carried, overlap=ins.op == "write")
        resources = cost.resources + ((f"{cost.unit}:{site}",) if cost.unit and site else ())
        writes = self._names(ins, unit, WRITES)
        parts = self._names(ins, unit, PART_WRITES)
        if ins.op == "xfer":
            if "from" in ins.operands:
                src = _ref(ins.operands["src"]).name
                after = max(after, self._arrived(src, str(ins.operands["from"])))
            if ins.operands["dst"] == ins.operands["src"]:
                writes = []
        start, end = sched.place(cost.ns, resources, reads, writes, parts, after)
        for n in writes:
            self.arrival.pop(n, None)
        if site and ins.op == "xfer":
            label = self.ctx.layout.piece_name(_ref(ins.operands["dst"]).name, unit.piece)
            self.arrival.setdefault(label, {})[site] = end
        mat = self.ctx.layout.copy_name(_ref(ins.operands["mat"]).name, unit.copy or 0) \
            if ins.op in ("mmv", "write") else None
        self.record.task(Task(state, layer, phase, ins.op, _label(ins), cost, start, end, resources, mat))
        for mv in places.after(ins, site, unit):
            s2, e2 = sched.place(mv.cost.ns, mv.cost.resources, [], [], [mv.label], end)
            self.arrival.setdefault(mv.label, {})[mv.dst] = e2
            self.record.task(Task(state, layer, phase, "move", f"move %{mv.label}", mv.cost, s2, e2,
                                  mv.cost.resources))

    def _fanout(self, ins: Instr, sched: Scheduler, state: str, layer: str, phase: str) -> None:
        """A weight multicast: per bank and replica, one task writes every sample-parallel copy while one
        stream feeds them all (``Places.fanned``)."""
        layout, mat = self.ctx.layout, _ref(ins.operands["mat"]).name
        groups: dict[tuple[str, int], list[Unit]] = {}
        for unit in self.units_of(ins):
            tile = layout.copy_tile(mat, unit.copy or 0)
            groups.setdefault((tile.split(".")[0], (unit.copy or 0) % layout.copies[mat].replicas), []).append(unit)
        for units in groups.values():
            tiles = [layout.copy_tile(mat, u.copy or 0) for u in units]
            base = [self.cost(ins, u) for u in units]
            stream = self.places.fanned(ins, tiles)
            cells = Cost()
            for c in base:
                cells = cells.add(Cost(0.0, c.energy, c.resources, crossbars=c.crossbars))
            cost = _merge(Cost(max(c.ns for c in base), cells.energy, cells.resources), stream, overlap=True)
            names = [layout.copy_name(mat, u.copy or 0) for u in units]
            reads = [_ref(ins.operands["src"]).name]
            start, end = sched.place(cost.ns, cost.resources, reads, names, [])
            self.record.task(Task(state, layer, phase, "write", _label(ins), cost, start, end, cost.resources, mat))

    def _tasks(self, tasks: list[tuple[str, Cost, list[str], list[str]]], sched: Scheduler, state: str, layer: str,
               phase: str) -> None:
        """Tasks built outside an instruction's units (a reduce's steps, batch-norm statistics): (label, cost,
        names read, names written in part)."""
        for label, cost, reads, parts in tasks:
            start, end = sched.place(cost.ns, cost.resources, reads, [], parts)
            self.record.task(Task(state, layer, phase, label.split(" ", 1)[0], label, cost, start, end,
                                  cost.resources))

    # ---- reconfiguration ------------------------------------------------------------------------
    def _reconfigure(self, state: State) -> float:
        self.config, changed = reconfigured(state, self.config, self.switch_count)
        return self._charge_config(state.name, changed, self.now)

    def _charge_config(self, state: str, changed: int, t: float) -> float:
        if not changed:
            return t
        ic = self.hw.interconnect
        cost = Cost(ic.switch_ns, {"switches": changed * ic.switch_pj})
        self.record.task(Task(state, "(reconfigure)", "config", "config", f"{changed} switches", cost,
                              t, t + cost.ns, ("switches",)))
        return t + cost.ns

    def _config_instr(self, ins: Instr) -> Cost:
        self.config, cost = config_instr(ins, self.config, self.switch_count, self.places, self.hw)
        return cost


Config = tuple[dict[str, str], dict[str, str]]  # (bank -> mode, node -> switch state)


def reconfigured(state: State, config: Config, switch_count: dict[str, int]) -> tuple[Config, int]:
    """A state's bank modes and switch settings, and how many switches change from ``config`` (a bank's
    mode change flips all its switches; a node's setting is 'parent' until set)."""
    modes = {b: str(m) for b, m in state.modes.items()}
    switches = {n: str(s) for n, s in state.switches.items()}
    old_modes, old_switches = config
    changed = sum(switch_count.get(b, 0) for b, m in modes.items() if old_modes.get(b, "Smode") != m)
    changed += sum(1 for n in set(switches) | set(old_switches)
                   if switches.get(n, "parent") != old_switches.get(n, "parent"))
    return (modes, switches), changed


def config_instr(ins: Instr, config: Config, switch_count: dict[str, int], places: Places,
                 hw: Hardware) -> tuple[Config, Cost]:
    """A ``setmode`` or ``setswitch``: the new configuration and what the change costs."""
    modes, switches = dict(config[0]), dict(config[1])
    o, ic = ins.operands, hw.interconnect
    if ins.op == "setmode":
        bank, mode = str(o["bank"]), str(o["mode"])
        n = switch_count.get(bank, 0) if modes.get(bank, "Smode") != mode else 0
        modes[bank] = mode
        places.modes[bank] = mode
    else:
        node, st = str(o["node"]), str(o["state"])
        n = int(switches.get(node, "parent") != st)
        switches[node] = st
    return (modes, switches), Cost(ic.switch_ns if n else 0.0, {"switches": n * ic.switch_pj}, ("switches",))


def _span(sched: Scheduler, end: float, mv: Move) -> tuple[float, float, tuple[str, ...]]:
    cost = mv.cost
    return end - cost.ns, end, cost.resources


def _merge(base: Cost, carried: Cost, overlap: bool) -> Cost:
    """The instruction's own cost and what it moves: in sequence, or overlapped (a weight streams
    into the crossbars while they are written)."""
    if not carried.resources and not carried.energy:
        return base
    out = base.add(carried)
    if overlap:
        out.ns = max(base.ns, carried.ns)
    return out


def _multicast(ins: Instr, ctx: Context) -> bool:
    """A write of a weight to sample-parallel copies that are fanned out from one stream per bank."""
    o = ins.operands
    return ins.op == "write" and str(o.get("fanout", "")) == "multicast" and _ref(o["src"]).kind == "param" \
        and ctx.layout.copies[_ref(o["mat"]).name].shards > 1


def _ref(v: object) -> Ref:
    assert isinstance(v, Ref)
    return v


def _label(ins: Instr) -> str:
    o = ins.operands
    for key in ("mat", "dst", "param", "src"):
        v = o.get(key)
        if v is not None and hasattr(v, "name"):
            return f"{ins.op} {v.name}"
    return ins.op


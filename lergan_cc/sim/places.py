"""Where data sits, and the moves the program leaves implicit.

Every piece of a buffer (the buffer, a shard of its samples, a partial of a gradient) has a *home*
tile: its declaration's ``tile``, or for a sharded buffer the tile of the matrix copy its ``home``
names (``lergan_cc.fsm.copies``). Copies spread by ``xfer``. A unit of an instruction runs at its
*site* (its matrix copy's tile, an ``xfer``'s destination, the host, or its result piece's home); the
samples of an operand it needs that are not at the site are moved there first over the route the
controller would pick, and an ``mmv`` on a copy away from its result's home sends its part of the
result home. A weight tensor crosses the bus once per bank and state, to the first matrix cut from
it, and every other copy in that bank gets it from the bank's port (``fanout=multicast``, the
default); ``fanout=per-copy`` streams it from the host to every copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.fsm.copies import loop_nest
from lergan_cc.fsm.program import Instr, Program
from lergan_cc.fsm.values import Ref
from lergan_cc.shards import overlaps
from lergan_cc.sim.costs import READS, WRITES, Context, Cost
from lergan_cc.sim.layout import Unit
from lergan_cc.sim.wires import multicast, resolve, shortest, transfer
from lergan_cc.targets.geometry import HOST, Topology

NO_SITE = ("layer", "barrier", "setmode", "setswitch", "reduce")


@dataclass
class Move:
    """An implicit transfer: ``label`` names the buffer piece moved."""

    label: str
    cost: Cost
    src: str = ""
    dst: str = ""


def bank_of_tile(tile: str) -> str:
    return tile.split(".", 1)[0]


class Places:
    def __init__(self, program: Program, ctx: Context, topo: Topology) -> None:
        self.ctx, self.topo, self.layout = ctx, topo, ctx.layout
        self.home = _homes(program, ctx)
        self.loc: dict[str, set[str]] = {}  # piece name -> tiles holding a valid copy
        self.part: dict[str, set[tuple[str, int, int]]] = {}  # piece name -> (tile, first sample, samples) moved
        self.modes: dict[str, str] = {}
        self.programmed: set[tuple[str, ...]] = set()  # (param, bank) already brought over the bus in this state

    def enter(self, modes: dict[str, str]) -> None:
        self.modes, self.programmed = modes, set()

    def mode(self, *tiles: str) -> str:
        banks = [bank_of_tile(t) for t in tiles if t != HOST]
        return "Cmode" if banks and all(self.modes.get(b) == "Cmode" for b in banks) else "Smode"

    def move(self, src: str, dst: str, nbytes: int, shard: bool = False) -> Cost:
        mode = self.shard_mode(src, dst) if shard else self.mode(src, dst)
        return transfer(self.topo, shortest(self.topo, src, dst, mode), nbytes)

    def shard_mode(self, src: str, dst: str) -> str:
        """The routes of a shard's samples: Cmode (the 3DCU's vertical and horizontal wires) when both ends
        compute, or when the samples go to a computing bank of the same 3DCU — a sharded program leaves
        these moves to the controller, which sets the switches on the way as a state's ``switch`` line does
        for an ``xfer``; else the H-tree and the bus."""
        if self.mode(src, dst) == "Cmode":
            return "Cmode"
        if src == HOST or dst == HOST or self.mode(dst) != "Cmode":
            return "Smode"
        unit = self.topo.unit_of(bank_of_tile(dst))
        return "Cmode" if unit is not None and unit == self.topo.unit_of(bank_of_tile(src)) else "Smode"

    def site(self, ins: Instr, unit: Unit) -> str | None:
        o = ins.operands
        if ins.op in NO_SITE:
            return None
        if ins.op in ("mmv", "write"):
            return self.layout.copy_tile(_ref(o["mat"]).name, unit.copy or 0)
        if ins.op == "xfer" and "to" in o:
            return str(o["to"])
        if ins.op.startswith("host."):
            return HOST
        return self.home_of(_ref(o["dst"]).name, unit.piece)

    def home_of(self, buf: str, piece: int = 0) -> str:
        return self.layout.home(buf, piece) or self.home.get(buf) or f"{self.ctx.bank_of(Ref('buf', buf))}.T0"

    def where(self, buf: str, piece: int = 0) -> set[str]:
        return self.loc.get(self.layout.piece_name(buf, piece)) or {self.home_of(buf, piece)}

    # ---- moves ---------------------------------------------------------------------------------
    def pieces_read(self, ins: Instr, ref: Ref, unit: Unit) -> list[tuple[int, int, int]]:
        """(piece, first sample, samples) of buffer ``ref`` a unit reads: the shards its samples overlap, or
        the gradient partial it works on (the whole gradient, partial 0, for the host)."""
        name = ref.name
        if self.layout.pieces(name) == 1:
            return [(0, unit.lo, unit.count)]
        if self.layout.is_grad(name):
            return [(0 if ins.op.startswith("host.") else unit.piece, unit.lo, unit.count)]
        mine = [(unit.lo, unit.count)]
        return [(b, lo, n) for _, b, lo, n in overlaps(mine, self.layout.ranges(name))]

    def before(self, ins: Instr, site: str | None, unit: Unit) -> list[Move]:
        """Operand moves to ``site`` (recorded as copies there when a whole piece moved)."""
        if site is None or (ins.op == "xfer" and "to" in ins.operands):
            return []
        out = []
        for ref in _reads(ins):
            if ref.kind != "buf":
                continue
            for piece, lo, samples in self.pieces_read(ins, ref, unit):
                held = self.where(ref.name, piece)
                label = self.layout.piece_name(ref.name, piece)
                if site in held or (site, lo, samples) in self.part.get(label, ()):
                    continue
                src = min(held)
                shard = self.layout.pieces(ref.name) > 1
                out.append(Move(label, self.move(src, site, self.ctx.nbytes(ref, samples), shard), src, site))
                whole = samples == self.layout.ranges(ref.name)[piece][1] or self.layout.is_grad(ref.name)
                if site != HOST and whole:
                    self.loc[label] = held | {site}
                elif site != HOST:  # a part of a shard (other shardings read it): moved once for them all
                    self.part.setdefault(label, set()).add((site, lo, samples))
        return out

    def carry(self, ins: Instr, site: str | None, unit: Unit) -> Cost:
        """What the instruction itself moves: an ``xfer``'s route, a weight into its crossbars, a host
        op's result back to the tiles."""
        o = ins.operands
        if ins.op == "xfer" and "route" in o:
            route = o["route"]
            assert isinstance(route, list)  # the assembler checked it: a list of link kinds
            links = resolve(self.topo, str(o["from"]), str(o["to"]), tuple(str(k) for k in route))
            return transfer(self.topo, links, self.ctx.nbytes(_ref(o["src"])))
        if ins.op == "write" and _ref(o["src"]).kind == "param" and site:
            return self._weights(ins, site)
        if ins.op in ("host.input", "host.loss_grad"):
            ref = _ref(o["dst"])
            return self.move(HOST, self.home_of(ref.name, unit.piece), self.ctx.nbytes(ref, unit.count))
        return Cost()

    def _weights(self, ins: Instr, site: str) -> Cost:
        o = ins.operands
        g, rows, cols = self.ctx.matrices[_ref(o["mat"]).name].shape
        nbytes = g * rows * cols * self.ctx.hw.precision.weight_bits // 8
        bank = bank_of_tile(site)
        key = (_ref(o["src"]).name, bank)
        if key in self.programmed and str(o.get("fanout", "multicast")) == "multicast":
            return transfer(self.topo, shortest(self.topo, f"{bank}.L0.n0", site, "Smode"), nbytes)
        self.programmed.add(key)
        return self.move(HOST, site, nbytes)

    def fanned(self, ins: Instr, tiles: list[str]) -> Cost:
        """A weight multicast to the sample-parallel copies of one bank: over the bus once (the first cut of
        this weight in the bank and state), then down the bank's H-tree to every copy's tile at once."""
        o = ins.operands
        g, rows, cols = self.ctx.matrices[_ref(o["mat"]).name].shape
        nbytes = g * rows * cols * self.ctx.hw.precision.weight_bits // 8
        bank = bank_of_tile(tiles[0])
        port = f"{bank}.L0.n0"
        key = (_ref(o["src"]).name, bank)
        bus = Cost() if key in self.programmed else self.move(HOST, port, nbytes)
        self.programmed.add(key)
        routes = [shortest(self.topo, port, t, "Smode") for t in dict.fromkeys(tiles)]
        return bus.add(multicast(self.topo, routes, nbytes))

    def after(self, ins: Instr, site: str | None, unit: Unit) -> list[Move]:
        """Result moves (an mmv's part of the result to its piece's home) and the new places of results."""
        o = ins.operands
        if site is None:
            return []
        if ins.op == "mmv":
            dst = _ref(o["dst"]).name
            home = self.home_of(dst, unit.piece)
            label = self.layout.piece_name(dst, unit.piece)
            self.loc[label] = {home}
            self.part.pop(label, None)
            if home == site:
                return []
            return [Move(label, self.move(site, home, self._mmv_out_bytes(ins, unit)), site, home)]
        if ins.op == "xfer":
            dst, src = _ref(o["dst"]).name, _ref(o["src"]).name
            label = self.layout.piece_name(dst, unit.piece)
            self.loc[label] = (self.where(src, unit.piece) | {site}) if dst == src else {site}
            self.part.pop(label, None)
            return []
        for ref in _writes(ins):
            if ref.kind == "buf":
                label = self.layout.piece_name(ref.name, unit.piece)
                self.loc[label] = {site if site != HOST else self.home_of(ref.name, unit.piece)}
                self.part.pop(label, None)
        return []

    def _mmv_out_bytes(self, ins: Instr, unit: Unit) -> int:
        o = ins.operands
        ctx = self.ctx
        g, _, cols = ctx.matrices[_ref(o["mat"]).name].shape
        positions = 1
        for p in (unit.part.ranges if unit.part is not None else loop_nest(o["rect"])):
            positions *= p.count
        if str(o["mode"]) == "fwd":
            n = g * cols * positions * unit.count
        else:
            n = ctx.buffers[_ref(o["src"]).name].shape[0] * cols * positions
        return n * ctx.value_bits // 8


def _ref(v: object) -> Ref:
    assert isinstance(v, Ref)
    return v


def _reads(ins: Instr) -> list[Ref]:
    return [v for k in READS.get(ins.op, ()) if isinstance(v := ins.operands.get(k), Ref)]


def _writes(ins: Instr) -> list[Ref]:
    return [v for k in WRITES.get(ins.op, ()) if isinstance(v := ins.operands.get(k), Ref)]


def _homes(program: Program, ctx: Context) -> dict[str, str]:
    """A buffer's declared ``tile``; for programs without one: the first mmv's matrix tile, else (in
    program order) an xfer's destination, the home of the first operand, or the bank's tile 0."""
    home = {n: str(d.attrs["tile"]) for n, d in ctx.buffers.items() if "tile" in d.attrs}
    body = [i for s in program.states for i in s.body]
    for ins in body:
        if ins.op == "mmv":
            mat = _ref(ins.operands["mat"]).name
            home.setdefault(_ref(ins.operands["dst"]).name, ctx.layout.copy_tile(mat, 0))
    for ins in body:
        for ref in _writes(ins):
            if ref.kind != "buf" or ref.name in home:
                continue
            if ins.op == "xfer" and "to" in ins.operands:
                home[ref.name] = str(ins.operands["to"])
                continue
            srcs = [r for r in _reads(ins) if r.kind == "buf" and r.name in home]
            home[ref.name] = home[srcs[0].name] if srcs else f"{ctx.bank_of(ref)}.T0"
    return home

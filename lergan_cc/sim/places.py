"""Where data sits, and the moves the program leaves implicit.

Every buffer has a *home* tile: the ``tile`` of its declaration (where ``emit-fsm`` runs the op that
produces it: the op's first matrix copy, or tile 0 of its phase's bank for an op without crossbars).
Copies spread by ``xfer``. An instruction runs at its *site* (a matrix's tile, an ``xfer``'s
destination, the host, or its result's home); an operand not at the site is moved there first
over the route the controller would pick, and an ``mmv`` on a matrix away from its result's home
sends its part of the result home. A weight tensor crosses the bus once per bank and state, to the first matrix
cut from it; every other cut (another kind, a replica) gets its taps from the bank's port.
"""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.fsm.program import Instr, Program
from lergan_cc.fsm.values import Ref
from lergan_cc.sim.costs import READS, WRITES, Context, Cost
from lergan_cc.sim.wires import resolve, shortest, transfer
from lergan_cc.targets.geometry import HOST, Topology

NO_SITE = ("layer", "barrier", "setmode", "setswitch")


@dataclass
class Move:
    """An implicit transfer: ``label`` names the buffer moved."""

    label: str
    cost: Cost
    src: str = ""
    dst: str = ""


def bank_of_tile(tile: str) -> str:
    return tile.split(".", 1)[0]


class Places:
    def __init__(self, program: Program, ctx: Context, topo: Topology) -> None:
        self.ctx, self.topo = ctx, topo
        self.home = _homes(program, ctx)
        self.loc: dict[str, set[str]] = {}
        self.modes: dict[str, str] = {}
        self.programmed: set[tuple[str, ...]] = set()  # (param, bank) already brought over the bus in this state

    def enter(self, modes: dict[str, str]) -> None:
        self.modes, self.programmed = modes, set()

    def _mode(self, *tiles: str) -> str:
        banks = [bank_of_tile(t) for t in tiles if t != HOST]
        return "Cmode" if banks and all(self.modes.get(b) == "Cmode" for b in banks) else "Smode"

    def move(self, src: str, dst: str, nbytes: int) -> Cost:
        return transfer(self.topo, shortest(self.topo, src, dst, self._mode(src, dst)), nbytes)

    def site(self, ins: Instr) -> str | None:
        o = ins.operands
        if ins.op in NO_SITE:
            return None
        if ins.op in ("mmv", "write"):
            return self.mat_tile(o["mat"].name)  # type: ignore[union-attr]
        if ins.op == "xfer":
            return str(o["to"])
        if ins.op.startswith("host."):
            return HOST
        return self.home_of(o["dst"].name)  # type: ignore[union-attr]

    def mat_tile(self, name: str) -> str:
        d = self.ctx.matrices[name]
        return str(d.attrs.get("tile", "B1.T0"))

    def home_of(self, buf: str) -> str:
        return self.home.get(buf) or f"{self.ctx.bank_of(Ref('buf', buf))}.T0"

    def where(self, buf: str) -> set[str]:
        return self.loc.get(buf) or {self.home_of(buf)}

    # ---- moves ---------------------------------------------------------------------------------
    def before(self, ins: Instr, site: str | None) -> list[Move]:
        """Operand moves to ``site`` (recorded as copies there)."""
        if site is None or ins.op == "xfer":
            return []
        out = []
        for ref in _reads(ins):
            if ref.kind != "buf":
                continue
            held = self.where(ref.name)
            if site in held:
                continue
            src = min(held)
            out.append(Move(ref.name, self.move(src, site, self.ctx.nbytes(ref)), src, site))
            if site != HOST:
                self.loc[ref.name] = held | {site}
        return out

    def carry(self, ins: Instr, site: str | None) -> Cost:
        """What the instruction itself moves: an ``xfer``'s route, a weight into its crossbars, a host
        op's result back to the tiles."""
        o = ins.operands
        if ins.op == "xfer":
            links = resolve(self.topo, str(o["from"]), str(o["to"]), tuple(str(k) for k in o["route"]))  # type: ignore[union-attr]
            return transfer(self.topo, links, self.ctx.nbytes(o["src"]))  # type: ignore[arg-type]
        if ins.op == "write" and o["src"].kind == "param" and site:  # type: ignore[union-attr]
            return self._weights(ins, site)
        if ins.op in ("host.input", "host.loss_grad"):
            ref = o["dst"]
            return self.move(HOST, self.home_of(ref.name), self.ctx.nbytes(ref))  # type: ignore[union-attr, arg-type]
        return Cost()

    def _weights(self, ins: Instr, site: str) -> Cost:
        o = ins.operands
        g, rows, cols = self.ctx.matrices[o["mat"].name].shape  # type: ignore[union-attr]
        nbytes = g * rows * cols * self.ctx.hw.precision.weight_bits // 8
        bank = bank_of_tile(site)
        key = (o["src"].name, bank)  # type: ignore[union-attr]
        if key in self.programmed:
            return transfer(self.topo, shortest(self.topo, f"{bank}.L0.n0", site, "Smode"), nbytes)
        self.programmed.add(key)
        return self.move(HOST, site, nbytes)

    def after(self, ins: Instr, site: str | None) -> list[Move]:
        """Result moves (an mmv's part of the result to its home) and the new places of the results."""
        o = ins.operands
        if site is None:
            return []
        if ins.op == "mmv":
            dst = o["dst"].name  # type: ignore[union-attr]
            home = self.home_of(dst)
            self.loc[dst] = {home}
            if home == site:
                return []
            return [Move(dst, self.move(site, home, self._mmv_out_bytes(ins)), site, home)]
        if ins.op == "xfer":
            dst, src = o["dst"].name, o["src"].name  # type: ignore[union-attr]
            self.loc[dst] = (self.where(src) | {site}) if dst == src else {site}
            return []
        for ref in _writes(ins):
            if ref.kind == "buf":
                self.loc[ref.name] = {site if site != HOST else self.home_of(ref.name)}
        return []

    def _mmv_out_bytes(self, ins: Instr) -> int:
        o = ins.operands
        ctx = self.ctx
        g, _, cols = ctx.matrices[o["mat"].name].shape  # type: ignore[union-attr]
        positions = 1
        for p in o["rect"]:  # type: ignore[union-attr]
            positions *= p.count
        if str(o["mode"]) == "fwd":
            n = g * cols * positions * ctx.batch
        else:
            n = ctx.buffers[o["src"].name].shape[0] * cols * positions  # type: ignore[union-attr]
        return n * ctx.value_bits // 8


def _reads(ins: Instr) -> list[Ref]:
    return [ins.operands[k] for k in READS.get(ins.op, ()) if isinstance(ins.operands.get(k), Ref)]  # type: ignore[misc]


def _writes(ins: Instr) -> list[Ref]:
    return [ins.operands[k] for k in WRITES.get(ins.op, ()) if isinstance(ins.operands.get(k), Ref)]  # type: ignore[misc]


def _homes(program: Program, ctx: Context) -> dict[str, str]:
    """A buffer's declared ``tile``; for programs without one: the first mmv's matrix tile, else (in
    program order) an xfer's destination, the home of the first operand, or the bank's tile 0."""
    home = {n: str(d.attrs["tile"]) for n, d in ctx.buffers.items() if "tile" in d.attrs}
    body = [i for s in program.states for i in s.body]
    for ins in body:
        if ins.op == "mmv":
            d = ctx.matrices[ins.operands["mat"].name]  # type: ignore[union-attr]
            home.setdefault(ins.operands["dst"].name, str(d.attrs.get("tile", "B1.T0")))  # type: ignore[union-attr]
    for ins in body:
        for ref in _writes(ins):
            if ref.kind != "buf" or ref.name in home:
                continue
            if ins.op == "xfer":
                home[ref.name] = str(ins.operands["to"])
                continue
            srcs = [r for r in _reads(ins) if r.kind == "buf" and r.name in home]
            home[ref.name] = home[srcs[0].name] if srcs else f"{ctx.bank_of(ref)}.T0"
    return home

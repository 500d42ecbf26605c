"""Where a program's copies and shards sit, resolved once, and the units an instruction expands into.

An instruction is one task per *unit*: a copy of its matrix (``mmv``, ``write``), a shard of its buffer
(peripherals, ``host.*``, a sharded ``xfer``: one per pair of shards sharing samples), a partial of a
gradient, or the whole of it when nothing is sharded — so a program without sample-parallel copies or
replicas costs exactly what it did one instruction per copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.fsm.copies import Copies, Rect, copies_of, replica_rects, sharding_of
from lergan_cc.fsm.program import Instr, Program
from lergan_cc.fsm.values import Prog, Ref, Win
from lergan_cc.shards import overlaps, shard_ranges

GRAD = "grad"


@dataclass(frozen=True)
class Unit:
    """One task of an instruction: result piece ``piece`` over samples ``[lo, lo + count)``; ``copy`` the
    matrix copy it runs on and ``part`` its share of the loop nest (``mmv``)."""

    piece: int
    lo: int
    count: int
    copy: int | None = None
    part: Rect | None = None


class Layout:
    def __init__(self, program: Program, per_tile: int) -> None:
        self.program, self.batch, self.per_tile = program, program.batch, per_tile
        self.buffers = program.table("buffer")
        self.copies: dict[str, Copies] = {n: copies_of(d.attrs) for n, d in program.table("matrix").items()}
        self.homes: dict[str, list[str]] = {}
        for name in self.buffers:
            self._resolve(name)

    # ---- buffers -------------------------------------------------------------------------------
    def is_grad(self, name: str) -> bool:
        return self.buffers[name].attrs.get("role") == GRAD

    def pieces(self, name: str) -> int:
        return sharding_of(self.buffers[name].attrs).pieces

    def ranges(self, name: str) -> list[tuple[int, int]]:
        """The samples of each piece: a shard's, or those a gradient's partial sums over."""
        return shard_ranges(self.batch, self.pieces(name))

    def home(self, name: str, piece: int = 0) -> str | None:
        homes = self.homes.get(name)
        return homes[piece] if homes else None

    def piece_name(self, name: str, piece: int) -> str:
        """The scheduler's name of one piece (the buffer's own name when it is one piece)."""
        return name if self.pieces(name) == 1 else f"{name}#{piece}"

    def _resolve(self, name: str) -> list[str]:
        if name in self.homes:
            return self.homes[name]
        d = self.buffers[name]
        sharding = sharding_of(d.attrs)
        if sharding.home is None:
            homes = [str(d.attrs["tile"])] if "tile" in d.attrs else []
        elif sharding.home.kind == "mat":
            c = self.copies[sharding.home.name]
            homes = [c.tile(c.index(s, 0), self.per_tile) for s in range(sharding.pieces)]
        else:
            homes = self._resolve(sharding.home.name)
        self.homes[name] = homes
        return homes

    # ---- matrices ------------------------------------------------------------------------------
    def copy_name(self, mat: str, copy: int) -> str:
        return mat if self.copies[mat].count == 1 else f"{mat}#{copy}"

    def copy_tile(self, mat: str, copy: int) -> str:
        return self.copies[mat].tile(copy, self.per_tile)

    # ---- units ---------------------------------------------------------------------------------
    def units(self, ins: Instr) -> list[Unit]:
        o = ins.operands
        if ins.op == "mmv":
            return self._mmv_units(ins)
        if ins.op == "write":
            return self._write_units(ins)
        if ins.op == "xfer" and _buf(o.get("dst")) and self._sharded(ins):
            src, dst = _name(o["src"]), _name(o["dst"])
            return [Unit(b, lo, n) for _, b, lo, n in overlaps(self.ranges(src), self.ranges(dst))]
        target = _name(o.get("dst")) if _buf(o.get("dst")) else _name(o.get("src")) if _buf(o.get("src")) else None
        if target is None or ins.op in ("host.sgd", "reduce"):
            return [Unit(0, 0, self.batch)]
        return [Unit(p, lo, n) for p, (lo, n) in enumerate(self.ranges(target))]

    def _sharded(self, ins: Instr) -> bool:
        o = ins.operands
        return "from" not in o and (self.pieces(_name(o["src"])) > 1 or self.pieces(_name(o["dst"])) > 1)

    def _mmv_units(self, ins: Instr) -> list[Unit]:
        o = ins.operands
        c = self.copies[_name(o["mat"])]
        ranges = [p for p in _list(o["rect"]) if isinstance(p, Prog)]  # the assembler checked: all of them
        wins = [w for w in _list(o["win"]) if isinstance(w, Win)]
        parts = replica_rects(ranges, wins, c.replicas)
        shards = shard_ranges(self.batch, c.shards)
        return [Unit(s, lo, n, c.index(s, r), part) for s, (lo, n) in enumerate(shards) for r, part in enumerate(parts)]

    def _write_units(self, ins: Instr) -> list[Unit]:
        c = self.copies[_name(ins.operands["mat"])]
        shards = shard_ranges(self.batch, c.shards)
        return [Unit(i // c.replicas, *shards[i // c.replicas], copy=i) for i in range(c.count)]


def _buf(v: object) -> bool:
    return isinstance(v, Ref) and v.kind == "buf"


def _name(v: object) -> str:
    assert isinstance(v, Ref)
    return v.name


def _list(v: object) -> list[object]:
    assert isinstance(v, list)
    return v

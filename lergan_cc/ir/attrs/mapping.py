"""What the mapping passes attach: replica counts per kind, where every copy sits, the placement summary."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar, Self

from lergan_cc.ir.attribute import Attr, AttrError, Fields, Site
from lergan_cc.ir.attrs.zerofree import Reshape
from lergan_cc.ir.ops import MATRIX_OPS, Op
from lergan_cc.options import REPLICAS
from lergan_cc.shards import shard_ranges

RULES = ("table3", "eq14", "one")


def _reshape_of(site: Site, what: str) -> Reshape:
    r = site.the_op.get(Reshape)
    if r is None:
        raise AttrError(f"{what} on an op without 'reshape'")
    return r


@dataclass(frozen=True)
class Replicas(Attr):
    """Copies of every matrix of an op (paper §V): Table III for zfdr/deform kinds (``e_max`` and the loop
    length LL it was derived from), Eq. 14 for the normal mapping, one of each with degree ``none``."""

    key: ClassVar[str] = "replicas"
    degree: str
    rule: str
    per_kind: tuple[int, ...]
    e_max: int | None = None
    loop_length: int | None = None

    def to_value(self) -> Any:
        out: dict[str, Any] = {"degree": self.degree, "rule": self.rule, "per_kind": list(self.per_kind)}
        if self.e_max is not None:
            out["e_max"] = self.e_max
        if self.loop_length is not None:
            out["loop_length"] = self.loop_length
        return out

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        table3 = f.has("e_max") or f.has("loop_length")
        out = cls(f.str("degree", REPLICAS), f.str("rule", RULES), f.ints("per_kind", low=1),
                  f.int("e_max", low=1) if table3 else None, f.int("loop_length", low=1) if table3 else None)
        f.done()
        return out

    def verify(self, site: Site) -> None:
        reshape = _reshape_of(site, self.key)
        matrices = reshape.matrices()
        if len(self.per_kind) != len(matrices):
            raise AttrError(f"{self.key}: {len(self.per_kind)} counts for {len(matrices)} kinds")
        for (index, _, reuse, _), n in zip(matrices, self.per_kind, strict=True):
            if not 1 <= n <= max(1, reuse):
                raise AttrError(f"{self.key}: kind {index} has {n} copies, reuse {reuse} (1..{max(1, reuse)})")
        want = "one" if self.degree == "none" else "table3" if reshape.zero_free else "eq14"
        if self.rule != want:
            raise AttrError(f"{self.key}: rule {self.rule} for a {reshape.scheme} op at degree {self.degree} "
                            f"(expected {want})")
        if (self.rule == "table3") != (self.e_max is not None and self.loop_length is not None):
            raise AttrError(f"{self.key}: e_max and loop_length go with rule table3 only")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return op.OP in MATRIX_OPS


@dataclass(frozen=True)
class DataParallel(Attr):
    """Sample-parallel copies (``--data-parallel``): how many copies of its matrices each phase has; copy
    ``s`` of a phase processes shard ``s`` of the batch (``lergan_cc.shards``)."""

    key: ClassVar[str] = "data_parallel"
    scope: ClassVar[str] = "graph"
    batch: int
    copies: dict[str, int]
    spill: dict[str, tuple[str, ...]] = field(default_factory=dict)  # phase -> the spare banks it may use

    def of(self, phase: str) -> int:
        return self.copies.get(phase, 1)

    def to_value(self) -> Any:
        out: dict[str, Any] = {"batch": self.batch, "copies": dict(self.copies)}
        if self.spill:
            out["spill"] = {p: list(b) for p, b in self.spill.items()}
        return out

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        batch = f.int("batch", low=1)
        copies = {phase: Fields({"n": n}, f"{cls.key}.copies.{phase}").int("n", low=1)
                  for phase, n in f.dict("copies").items()}
        spill = {phase: tuple(_bank(b, f"{cls.key}.spill.{phase}") for b in _banks(banks, phase))
                 for phase, banks in (f.dict("spill").items() if f.has("spill") else [])}
        f.done()
        return cls(batch, copies, spill)

    def verify(self, site: Site) -> None:
        for phase, k in self.copies.items():
            if not 1 <= k <= self.batch:
                raise AttrError(f"{self.key}: {k} copies of phase {phase} for a batch of {self.batch}")
        phases = {op.phase for op in site.g.ops() if op.get(Reshape) is not None}
        if set(self.copies) - phases:
            raise AttrError(f"{self.key}: phase {sorted(set(self.copies) - phases)[0]} has no matrices")

    def shards(self, phase: str) -> list[tuple[int, int]]:
        return shard_ranges(self.batch, self.of(phase))


def copies_per_phase(g: Any, phase: str) -> int:
    """The sample-parallel copies of ``phase`` (1 without ``data-parallel``)."""
    dp = g.get(DataParallel)
    return dp.of(phase) if dp is not None else 1


@dataclass(frozen=True)
class Copy:
    """One placed piece of a matrix copy: consecutive row slices from ``row_start`` on, each ``col_slices``
    crossbars wide, from crossbar ``crossbar`` of ``tile`` on. A copy that straddles tiles is several.
    ``shard``: the sample-parallel copy it belongs to (0 without data parallelism)."""

    kind: int
    replica: int
    tile: str
    crossbar: int
    crossbars: int
    row_start: int
    row_slices: int
    col_slices: int
    shard: int = 0

    def to_value(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if not self.shard:
            del out["shard"]  # without data parallelism the text is what it always was
        return out

    @classmethod
    def from_value(cls, value: Any, what: str) -> Copy:
        f = Fields(value, what)
        out = Copy(f.int("kind"), f.int("replica"), f.str("tile"), f.int("crossbar"), f.int("crossbars", low=1),
                   f.int("row_start"), f.int("row_slices", low=1), f.int("col_slices", low=1),
                   f.int("shard") if f.has("shard") else 0)
        f.done()
        return out

    @classmethod
    def on_tile(cls, kind: int, replica: int, bank: str, tile_index: int, crossbar: int, crossbars: int,
                row_start: int, row_slices: int, col_slices: int, shard: int = 0) -> Copy:
        """A piece the placer puts on tile ``tile_index`` of ``bank``: the bank and index it knows are kept,
        not parsed back from ``tile`` (the placers make 10^4 pieces per -dp compile, the emitter reads both)."""
        c = cls(kind, replica, f"{bank}.T{tile_index}", crossbar, crossbars, row_start, row_slices, col_slices, shard)
        c.__dict__.update(bank=bank, tile_index=tile_index)  # the values the cached properties below would compute
        return c

    @cached_property  # read millions of times by the verifier and the placers (computed once per copy)
    def bank(self) -> str:
        return self.tile.split(".", 1)[0]

    @cached_property
    def tile_index(self) -> int:
        return int(self.tile.rsplit(".T", 1)[1])


@dataclass(frozen=True)
class Placement(Attr):
    """Where every copy of every matrix of an op sits: its bank and the pieces of each copy."""

    key: ClassVar[str] = "placement"
    bank: str  # the phase's own bank (Fig. 13); sample-parallel copies that do not fit it spill over
    copies: tuple[Copy, ...]

    def to_value(self) -> Any:
        return {"bank": self.bank, "copies": [c.to_value() for c in self.copies]}

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        out = cls(f.str("bank"), f.each("copies", Copy.from_value))
        f.done()
        return out

    @property
    def crossbars(self) -> int:
        return sum(c.crossbars for c in self.copies)

    def verify(self, site: Site) -> None:
        op = site.the_op
        replicas = op.get(Replicas)
        if replicas is None:
            raise AttrError(f"{self.key} on an op without 'replicas'")
        reshape = _reshape_of(site, self.key)
        summary = site.g.get(PlacementSummary)
        banks = summary.phases.get(op.phase, ()) if summary is not None else (self.bank,)
        if self.bank not in banks:
            raise AttrError(f"{self.key}: bank {self.bank} is not a bank of phase {op.phase}")
        shards = copies_per_phase(site.g, op.phase)
        rows: dict[tuple[int, int, int], int] = {}
        shapes = {index: shape for index, _, _, shape in reshape.matrices()}
        replicas_of = dict(zip(shapes, replicas.per_kind, strict=False))  # kind -> its replicas
        tiles_ok: dict[str, bool] = {}  # a -dp op has ~10^4 copies on a few hundred tiles: each tile checked once
        for c in self.copies:
            n = replicas_of.get(c.kind)
            if n is None or not 0 <= c.replica < n or not 0 <= c.shard < shards:
                raise AttrError(f"{self.key}: copy {c.replica} of kind {c.kind}, shard {c.shard} does not exist")
            ok = tiles_ok.get(c.tile)
            if ok is None:
                ok = tiles_ok[c.tile] = c.bank in banks and c.tile.startswith(f"{c.bank}.T")
            if not ok:
                raise AttrError(f"{self.key}: tile {c.tile} is not in a bank of phase {op.phase} ({', '.join(banks)})")
            if c.crossbars != c.row_slices * c.col_slices:
                raise AttrError(f"{self.key}: {c.crossbars} crossbars are not {c.row_slices} x {c.col_slices} slices")
            copy = (c.kind, c.replica, c.shard)
            rows[copy] = rows.get(copy, 0) + c.row_slices
        self._verify_on(site, shapes, rows)
        missing = [(k, r, s) for (k, _, _, _), n in zip(reshape.matrices(), replicas.per_kind, strict=True)
                   for r in range(n) for s in range(shards) if (k, r, s) not in rows]
        if missing:
            k, r, s = missing[0]
            raise AttrError(f"{self.key}: copy {r} of kind {k}, shard {s} is not placed")

    def _verify_on(self, site: Site, shapes: dict[int, tuple[int, int, int]],
                   rows: dict[tuple[int, int, int], int]) -> None:
        """With the machine at hand: tiles and crossbars exist, and every copy has all its row slices."""
        hw = site.hw
        if hw is None:
            return
        slices = {kind: hw.matrix_slices(shape) for kind, shape in shapes.items()}
        tiles, per_tile = hw.tiles_per_bank, hw.crossbars_per_tile
        tiles_ok: dict[str, bool] = {}
        for c in self.copies:
            ok = tiles_ok.get(c.tile)
            if ok is None:
                ok = tiles_ok[c.tile] = 0 <= c.tile_index < tiles
            if not ok or c.crossbar + c.crossbars > per_tile:
                raise AttrError(f"{self.key}: crossbars {c.crossbar}+{c.crossbars} of {c.tile} do not exist "
                                f"({tiles} tiles of {per_tile})")
            if c.col_slices != slices[c.kind][1]:
                raise AttrError(f"{self.key}: kind {c.kind} is {slices[c.kind][1]} crossbars wide")
        for (kind, replica, shard), n in rows.items():
            want = slices[kind][0]
            if n != want:
                raise AttrError(f"{self.key}: copy {replica} of kind {kind}, shard {shard} has {n} of its {want} "
                                f"row slices")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return op.OP in MATRIX_OPS


@dataclass(frozen=True)
class PlacementSummary(Attr):
    """The placement of the whole model: target, each phase's banks, crossbars and tiles used."""

    key: ClassVar[str] = "placement"
    scope: ClassVar[str] = "graph"
    target: str
    phases: dict[str, tuple[str, ...]]
    crossbars_used: int
    tiles_used: int

    def to_value(self) -> Any:
        return {"target": self.target, "phases": {p: {"banks": list(b)} for p, b in self.phases.items()},
                "crossbars_used": self.crossbars_used, "tiles_used": self.tiles_used}

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        phases = {}
        for phase, entry in f.dict("phases").items():
            p = Fields(entry, f"{cls.key}.phases.{phase}")
            phases[phase] = tuple(p.each("banks", _bank))
            p.done()
        out = cls(f.str("target"), phases, f.int("crossbars_used"), f.int("tiles_used"))
        f.done()
        return out

    def verify(self, site: Site) -> None:
        placed = [(op, p) for op in site.g.ops() if (p := op.get(Placement)) is not None]
        used = sum(p.crossbars for _, p in placed)
        tiles = {c.tile for _, p in placed for c in p.copies}
        if used != self.crossbars_used or len(tiles) != self.tiles_used:
            raise AttrError(f"{self.key}: {self.crossbars_used} crossbars on {self.tiles_used} tiles, but the ops "
                            f"hold {used} on {len(tiles)}")
        for op, _ in placed:
            if op.phase not in self.phases:
                raise AttrError(f"{self.key}: phase {op.phase} of op '{op.name}' has no bank")


def _banks(v: Any, phase: str) -> list[Any]:
    if not isinstance(v, list):
        raise AttrError(f"data_parallel.spill.{phase}: expected a list of banks, got {v!r}")
    return v


def _bank(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise AttrError(f"{what}: expected a bank name, got {v!r}")
    return v

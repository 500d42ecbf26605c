"""What the zero-free passes attach: the interface, the zero-insertion figures, the ZFDR summary, the plan.

Each is a function of the op's geometry, so each verifies itself by re-deriving it (the numeric core's
results are cached per geometry): an IR whose figures or plans do not belong to its ops is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, cast

from lergan_cc.ir.attribute import Attr, AttrError, Fields, Site, as_int, as_ints
from lergan_cc.ir.conv import (
    INTERFACES,
    InterfaceName,
    Scheme,
    conv_geometry,
    figures,
    normal_plan,
    plan,
    zero_free_interface,
)
from lergan_cc.ir.ops import MATRIX_OPS, Op, _Conv
from lergan_cc.zerofree import AxisMap, Kind, NormalPlan, Progression, Rectangle, ReshapePlan, ZeroInsertion
from lergan_cc.zerofree.plan import KindClass

KIND_CLASSES: tuple[KindClass, ...] = ("Corner", "Edge", "Inside", "Polyphase")
SCHEMES = ("zfdr", "deform", "normal")


def _conv(site: Site) -> _Conv:
    op = site.the_op
    if not isinstance(op, _Conv):
        raise AttrError(f"only conv ops carry this attribute, not {op.OP}")
    return op


@dataclass(frozen=True)
class Interface(Attr):
    """The zero-free interface a conv op needs (paper §V): ZFDR_T, ZFDR_WS or none."""

    key: ClassVar[str] = "interface"
    name: InterfaceName

    def to_value(self) -> Any:
        return self.name

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        if value not in INTERFACES:
            raise AttrError(f"interface: expected one of {', '.join(INTERFACES)}, got {value!r}")
        return cls(cast(InterfaceName, value))

    @classmethod
    def of(cls, op: Op) -> Interface:
        return Interface(zero_free_interface(op))

    def verify(self, site: Site) -> None:
        want = zero_free_interface(_conv(site))
        if self.name != want:
            raise AttrError(f"interface {self.name}, but its stride and kind need {want}")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return isinstance(op, _Conv)


@dataclass(frozen=True)
class ZeroInsertionFigures(Attr):
    """Eqs 5-10 for one conv layer and phase (one sample, all channels): stored and useful input values,
    MACs with and without the inserted zeros (DESIGN §8 analysis fields)."""

    key: ClassVar[str] = "zero_insertion"
    zero_inserted_inputs: int
    useful_inputs: int
    macs_zero_inserted: int
    macs_useful: int

    @property
    def efficiency(self) -> float:
        return self.macs_useful / self.macs_zero_inserted if self.macs_zero_inserted else 1.0

    @classmethod
    def of(cls, z: ZeroInsertion) -> ZeroInsertionFigures:
        return ZeroInsertionFigures(z.zero_inserted_inputs, z.useful_inputs, z.macs_zero_inserted, z.macs_useful)

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_value(self) -> Any:
        return {"efficiency": self.efficiency, **self.counts()}

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        out = cls(*(f.int(x.name) for x in fields(cls)))
        if f.float("efficiency") != out.efficiency:
            raise AttrError(f"{cls.key}.efficiency: {value['efficiency']} is not macs_useful / macs_zero_inserted")
        f.done()
        return out

    def verify(self, site: Site) -> None:
        op = _conv(site)
        want = ZeroInsertionFigures.of(figures(conv_geometry(site.g, op)))
        if self != want:
            raise AttrError(f"{self.key}: {self.counts()} differ from the op's geometry: {want.counts()}")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return isinstance(op, _Conv)


@dataclass(frozen=True)
class ZfdrSummary(Attr):
    """What ZFDR would make of a conv layer, whichever scheme runs: kinds by class, max reuse, MMV rounds
    with one copy of each kind against the rounds without ZFDR."""

    key: ClassVar[str] = "zfdr_summary"
    kinds: int
    corner: int
    edge: int
    inside: int
    max_reuse: int
    rounds: int
    rounds_without: int

    @classmethod
    def of(cls, p: ReshapePlan) -> ZfdrSummary:
        s = p.stats()
        return ZfdrSummary(*(getattr(s, f.name) for f in fields(ZfdrSummary)))

    def to_value(self) -> Any:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        out = cls(*(f.int(x.name) for x in fields(cls)))
        f.done()
        return out

    def verify(self, site: Site) -> None:
        want = ZfdrSummary.of(plan("zfdr", conv_geometry(site.g, _conv(site))))
        if self != want:
            raise AttrError(f"{self.key}: {self.to_value()} differs from the op's ZFDR: {want.to_value()}")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return isinstance(op, _Conv)


@dataclass(frozen=True)
class DenseMatrix:
    """A dense layer (or its transposed or outer-product form): one ``rows x cols`` matrix used once a sample."""

    rows: int
    cols: int

    @classmethod
    def of(cls, site: Site) -> DenseMatrix:
        op, g = site.the_op, site.g
        rows = g.op(op.inputs[0]).shape[0]
        cols = op.shape[0] if op.OP == "dense" else g.op(op.inputs[1]).shape[0]
        return DenseMatrix(rows, cols)


Plan = ReshapePlan | NormalPlan | DenseMatrix


@dataclass(frozen=True)
class Reshape(Attr):
    """The matrices a matrix op is stored as: a zfdr/deform plan (kinds with their taps, reuse, output
    rectangles and affine input windows), the normal one-matrix mapping, or a dense layer's matrix."""

    key: ClassVar[str] = "reshape"
    plan: Plan

    @property
    def scheme(self) -> str:
        return self.plan.scheme if isinstance(self.plan, ReshapePlan) else "normal"

    @property
    def zero_free(self) -> bool:
        """A zfdr or deform plan (ZFDM: zero-free data mapping), as opposed to the normal mapping."""
        return isinstance(self.plan, ReshapePlan)

    def matrices(self) -> list[tuple[int, str, int, tuple[int, int, int]]]:
        """(kind index, class, reuse, (groups, rows, cols)) of every matrix to store."""
        p = self.plan
        if isinstance(p, ReshapePlan):
            return [(k.index, k.cls, k.reuse, p.matrix_shape(k)) for k in p.kinds]
        if isinstance(p, NormalPlan):
            return [(0, "Normal", p.rounds, (p.groups, p.rows, p.cols))]
        return [(0, "Normal", 1, (1, p.rows, p.cols))]

    def stats(self) -> dict[str, int]:
        p = self.plan
        if isinstance(p, ReshapePlan):
            return p.stats().as_dict()
        if isinstance(p, NormalPlan):
            groups, rows, cols, rounds, macs = p.groups, p.rows, p.cols, p.rounds, p.macs
        else:
            groups, rows, cols, rounds, macs = 1, p.rows, p.cols, 1, p.rows * p.cols
        stored = groups * rows * cols
        return {"kinds": 1, "corner": 0, "edge": 0, "inside": 0, "max_reuse": rounds, "rounds": rounds,
                "rounds_without": rounds, "stored_matrix_values": stored, "stored_matrix_values_normal": stored,
                "macs": macs}

    # ---- text ---------------------------------------------------------------------------------
    def to_value(self) -> Any:
        p = self.plan
        if isinstance(p, ReshapePlan):
            return {"scheme": p.scheme, "stats": self.stats(), "kinds": [_kind_value(p, k) for k in p.kinds],
                    "empty": [[_prog_value(r) for r in box] for box in p.empty]}
        (_, _, _, matrix), = self.matrices()
        return {"scheme": "normal", "stats": self.stats(), "matrix": list(matrix)}

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        scheme = f.str("scheme", SCHEMES)
        op = site.the_op
        built: Plan
        if scheme in ("zfdr", "deform"):
            geometry = conv_geometry(site.g, _conv(site))
            kinds = f.each("kinds", _parse_kind)
            empty = tuple(tuple(_parse_prog(r, f"{cls.key}.empty") for r in _list(box, f"{cls.key}.empty"))
                          for box in f.list("empty"))
            built = ReshapePlan(cast(Scheme, scheme), geometry, kinds, empty)
        elif isinstance(op, _Conv):
            built = normal_plan(conv_geometry(site.g, op))
        else:
            built = DenseMatrix.of(site)
        out = cls(built)
        matrices = [list(m) for _, _, _, m in out.matrices()]
        if scheme == "normal" and list(f.ints("matrix")) != matrices[0]:
            raise AttrError(f"{cls.key}.matrix: {f.value['matrix']} is not this op's matrix {matrices[0]}")
        if isinstance(built, ReshapePlan):
            for k, raw in zip(built.kinds, f.value["kinds"], strict=True):
                if raw.get("matrix") != list(built.matrix_shape(k)):
                    raise AttrError(f"{cls.key}: kind {k.index}: matrix {raw.get('matrix')} does not fit its taps "
                                    f"({list(built.matrix_shape(k))})")
        stats = f.dict("stats")
        if stats != out.stats():
            raise AttrError(f"{cls.key}.stats: {stats} do not follow from the plan ({out.stats()})")
        f.done()
        return out

    # ---- invariants ---------------------------------------------------------------------------
    def verify(self, site: Site) -> None:
        op = site.the_op
        if isinstance(self.plan, DenseMatrix):
            if isinstance(op, _Conv) or self.plan != DenseMatrix.of(site):
                raise AttrError(f"{self.key}: a dense matrix {self.plan} does not fit this {op.OP}")
            return
        geometry = conv_geometry(site.g, _conv(site))
        if isinstance(self.plan, NormalPlan):
            want: Plan = normal_plan(geometry)
        else:
            if zero_free_interface(op) == "none":
                raise AttrError(f"{self.key}: a {self.plan.scheme} plan on an op that needs no zero-free interface")
            want = plan(self.plan.scheme, geometry)
        if self.plan != want:
            raise AttrError(f"{self.key}: the {self.scheme} plan differs from the one its geometry gives")

    @classmethod
    def belongs(cls, op: Op) -> bool:
        return op.OP in MATRIX_OPS


# ---- plan pieces as values -------------------------------------------------------------------------
def _prog_value(p: Progression) -> list[int]:
    return [p.start, p.step, p.count]


def _kind_value(p: ReshapePlan, k: Kind) -> dict[str, Any]:
    return {"index": k.index, "class": k.cls, "border": list(k.border), "reuse": k.reuse,
            "matrix": list(p.matrix_shape(k)), "taps": [list(t) for t in k.taps], "padded": k.padded,
            "rects": [{"ranges": [_prog_value(r) for r in rect.ranges],
                       "maps": [[m.a, list(m.b)] for m in rect.maps]} for rect in k.rectangles]}


def _list(v: Any, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise AttrError(f"{what}: expected [...], got {v!r}")
    return v


def _parse_prog(v: Any, what: str) -> Progression:
    start, step, count = _triple(v, what)
    if step < 1 or count < 1:
        raise AttrError(f"{what}: step and count must be >= 1, got {v}")
    return Progression(start, step, count)


def _triple(v: Any, what: str) -> tuple[int, int, int]:
    values = as_ints(v, what, low=-(1 << 62))
    if len(values) != 3:
        raise AttrError(f"{what}: expected [start, step, count], got {v}")
    return values[0], values[1], values[2]


def _parse_map(v: Any, what: str) -> AxisMap:
    items = _list(v, what)
    if len(items) != 2:
        raise AttrError(f"{what}: expected [a, [b...]], got {v}")
    return AxisMap(as_int(items[0], what, low=-(1 << 62)), as_ints(items[1], what, low=-(1 << 62)))


def _parse_rect(v: Any, what: str) -> Rectangle:
    f = Fields(v, what)
    out = Rectangle(f.each("ranges", _parse_prog), f.each("maps", _parse_map))
    f.done()
    return out


def _parse_kind(v: Any, what: str) -> Kind:
    f = Fields(v, what)
    border = tuple(bool(b) for b in f.list("border"))
    kind = Kind(f.int("index"), cast(KindClass, f.str("class", KIND_CLASSES)),
                f.each("taps", lambda t, w: as_ints(t, w)), border, f.int("reuse", low=1),
                f.each("rects", _parse_rect), f.bool("padded"))
    f.seen.add("matrix")  # derived: checked against the taps by Reshape.from_value
    f.done()
    if sum(r.size for r in kind.rectangles) != kind.reuse:
        raise AttrError(f"{what}: reuse {kind.reuse} is not the {sum(r.size for r in kind.rectangles)} positions "
                        f"of its rects")
    return kind

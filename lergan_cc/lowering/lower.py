"""Lower the placed IR to a typed FSM :class:`Program`: declarations, per-op bodies, transfers.

:mod:`lergan_cc.lowering.states` arranges the bodies into the controller's states (one
training iteration = paper Fig. 7 then Fig. 8); the templates spell the result.
"""

from __future__ import annotations

from collections.abc import Callable

from lergan_cc.context import CompileContext
from lergan_cc.fsm.isa import PHASES
from lergan_cc.fsm.program import Decl, Instr
from lergan_cc.fsm.values import Ref, Sym, Value
from lergan_cc.ir.attrs import Copy, Placement, PlacementSummary, Replicas
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import ActGrad, BatchNorm, BatchNormGrad, LeakyRelu, Op
from lergan_cc.lowering.kinds import MatrixSpec, matrix_spec, split_rect
from lergan_cc.targets.geometry import PHASE_BANK, Link, Topology
from lergan_cc.targets.hw import Hardware

MATRIX_OPS = ("dense", "wdense", "sconv", "tconv", "wconv")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
PARAM_ROLES = {"weight": "weight", "bias": "bias", "scale": "bn_scale", "mean": "bn_mean", "var": "bn_var"}
GRAD_SUFFIXES = (".wgrad", ".err")


def buf(name: str) -> Ref:
    return Ref("buf", name)


def param(name: str) -> Ref:
    return Ref("param", name)


def grad_name(p: str) -> str:
    return f"grad/{p}"


def hw_header(hw: Hardware) -> dict[str, Value]:
    """The hardware description, flattened (``section.key``), after the derived capacities the checks use."""
    out: dict[str, Value] = {"banks": hw.banks, "tiles_per_bank": hw.tiles_per_bank,
                             "crossbars_per_tile": hw.crossbars_per_tile}
    for key, v in hw.flat().items():
        out[key] = [Sym(x) for x in v] if isinstance(v, tuple) else v
    return out


class Lowering:
    """Per-op instruction bodies, the declarations they need, and the crossbar writes per network."""

    def __init__(self, g: Graph, ctx: CompileContext) -> None:
        self.g, self.options = g, ctx.options
        self.hw = ctx.hw
        self.topo = ctx.topology
        self.summary = g.need(PlacementSummary)
        self.decls: dict[tuple[str, str], Decl] = {}
        self.programming: dict[str, list[Instr]] = {}  # network -> writes of @param matrices
        self.bodies: dict[str, list[Instr]] = {}
        self.tiles: dict[str, str] = {}  # value -> tile where it is produced
        self._declare_params()
        for op in g.ops():
            self.bodies[op.name] = self._lower(op)

    # ---- placement --------------------------------------------------------------------------
    def bank(self, phase: str) -> str:
        placed = self.summary.phases.get(phase)
        return placed[0] if placed else PHASE_BANK.get(phase, "B1")

    def tile_of(self, op: Op) -> str:
        placement = op.get(Placement)
        return placement.copies[0].tile if placement and placement.copies else f"{self.bank(op.phase)}.T0"

    def route(self, src: str, dst: str) -> list[Sym]:
        return [Sym(link.kind) for link in _route(self.topo, src, dst)]

    # ---- declarations -----------------------------------------------------------------------
    def declare(self, kind: str, name: str, shape: tuple[int, ...], **attrs: Value) -> None:
        self.decls.setdefault((kind, name), Decl(kind, name, tuple(int(d) for d in shape), dict(attrs)))

    def _declare_params(self) -> None:
        roles: dict[str, str] = {}
        for op in self.g.ops():
            for field, role in PARAM_ROLES.items():
                ref = getattr(op, field, None)
                if isinstance(ref, str) and ref in self.g.params:
                    roles.setdefault(ref, "bn_bias" if (field == "bias" and op.OP == "batchnorm") else role)
        self.roles = roles
        for name in sorted(self.g.params):
            net = name.split("/", 1)[0] if "/" in name and name.split("/", 1)[0] in ("G", "D") else ""
            attrs: dict[str, Value] = {"role": Sym(roles.get(name, "const"))}
            if net:
                attrs["net"] = Sym(net)
            self.declare("param", name, self.g.params[name].shape, **attrs)

    def declare_value(self, op: Op) -> None:
        role = "input" if op.OP == "input" else "act"
        self.declare("buffer", op.name, op.shape, role=Sym(role), bank=Sym(self.bank(op.phase)),
                     tile=Sym(self.tile_of(op)))
        self.tiles[op.name] = self.tile_of(op)

    def declare_grad(self, p: str, op: Op) -> str:
        """A gradient accumulator, homed where the op that first accumulates into it runs."""
        self.declare("buffer", grad_name(p), self.g.params[p].shape, role=Sym("grad"), bank=Sym(self.bank(op.phase)),
                     tile=Sym(self.tile_of(op)))
        return grad_name(p)

    # ---- ops ----------------------------------------------------------------------------------
    def _lower(self, op: Op) -> list[Instr]:
        if op.OP in ("loss",):
            return []
        self.declare_value(op)
        rule = LOWER.get(op.OP)
        return rule(self, op) if rule else []

    def forward_of(self, op: Op) -> Op:
        for suffix in GRAD_SUFFIXES:
            if op.name.endswith(suffix) and op.name[: -len(suffix)] in self.g:
                return self.g.op(op.name[: -len(suffix)])
        return op

    def net_of(self, p: str) -> str:
        return p.split("/", 1)[0] if p.split("/", 1)[0] in ("G", "D") else ""


def _route(topo: Topology, src: str, dst: str) -> list[Link]:
    return topo.route(src, dst, "Cmode") if src != dst else []


def _instr(op: str, **operands: Value) -> Instr:
    return Instr(op, {k.rstrip("_"): v for k, v in operands.items()})


# ---- per-op rules ----------------------------------------------------------------------------------
def _act(lw: Lowering, op: Op) -> list[Instr]:
    alpha = op.alpha if isinstance(op, LeakyRelu) else 0.0
    return [_instr("act", dst=buf(op.name), src=buf(op.inputs[0]), fn=Sym(op.OP), alpha=float(alpha))]


def _act_grad(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, ActGrad)
    return [_instr("act_grad", dst=buf(op.name), y=buf(op.inputs[0]), dy=buf(op.inputs[1]), fn=Sym(op.fn),
                   alpha=float(op.alpha))]


def _bn(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, BatchNorm) and op.scale and op.bias and op.mean and op.var  # the verifier checks
    batch = op.phase != "fwd" or bool(op.batch_statistics)
    return [_instr("bn", dst=buf(op.name), src=buf(op.inputs[0]), scale=param(op.scale), bias=param(op.bias),
                   mean=param(op.mean), var=param(op.var), eps=float(op.epsilon),
                   stats=Sym("batch" if batch else "running"))]


def _bn_grad(lw: Lowering, op: Op) -> list[Instr]:
    fwd = lw.forward_of(op)
    assert isinstance(op, BatchNormGrad) and isinstance(fwd, BatchNorm) and op.scale and fwd.bias
    dscale = lw.declare_grad(op.scale, op)
    dbias = lw.declare_grad(fwd.bias, op)
    return [_instr("bn_grad", dst=buf(op.name), x=buf(op.inputs[0]), dy=buf(op.inputs[1]),
                   scale=param(op.scale), eps=float(op.epsilon), dscale=buf(dscale), dbias=buf(dbias))]


def _reshape(lw: Lowering, op: Op) -> list[Instr]:
    return [_instr("reshape", dst=buf(op.name), src=buf(op.inputs[0]))]


def _matrix(lw: Lowering, op: Op) -> list[Instr]:
    spec = matrix_spec(lw.g, op)
    body: list[Instr] = []
    for z in spec.zpads:
        lw.declare("buffer", z.dst, z.shape, role=Sym("zpad"), bank=Sym(lw.bank(op.phase)), tile=Sym(lw.tile_of(op)))
        body.append(_instr("zpad", dst=buf(z.dst), src=buf(z.src), stride=list(z.stride), before=list(z.before)))
    dst, acc, fwd = _destination(lw, op, spec)
    if not acc:
        body.append(_instr("zero", dst=buf(dst)))
    writes, mmvs = _kinds(lw, op, spec, dst, acc)
    if spec.operand_is_param:
        lw.programming.setdefault(lw.net_of(spec.operand), []).extend(writes)
    else:
        body += writes
    body += mmvs
    bias = getattr(fwd, "bias", None)
    if not acc and bias:
        body.append(_instr("bias", dst=buf(dst), src=param(bias)))
    if acc and bias:
        body.append(_instr("bias_grad", dst=buf(lw.declare_grad(bias, op)), src=buf(op.inputs[1])))
    return body


def _destination(lw: Lowering, op: Op, spec: MatrixSpec) -> tuple[str, bool, Op]:
    """The mmv's destination: the op's own buffer (forward, store) or the weight's gradient (accumulate)."""
    if spec.mode == "fwd":
        return op.name, False, op if op.phase in ("G_fwd", "D_fwd", "fwd") else _no_bias(op)
    fwd = lw.forward_of(op)
    weight = getattr(op, "weight", None) or getattr(fwd, "weight", None)
    assert isinstance(weight, str), f"{op.name}: a weight gradient of no weight"
    return lw.declare_grad(weight, op), True, fwd


def _no_bias(op: Op) -> Op:
    """Input-gradient ops (D_err, G_err) add no bias, whatever their forward op had."""
    return op.replace(bias=None) if hasattr(op, "bias") else op


def _kinds(lw: Lowering, op: Op, spec: MatrixSpec, dst: str, acc: bool) -> tuple[list[Instr], list[Instr]]:
    replicas = op.need(Replicas).per_kind
    copies = _copies(op.need(Placement).copies)
    src_ref = param(spec.operand) if spec.operand_is_param else buf(spec.operand)
    writes, mmvs = [], []
    for kind in spec.kinds:
        n = int(replicas[kind.index]) if replicas and kind.index < len(replicas) else 1
        names = []
        for r in range(max(1, n)):
            name = f"{op.name}.k{kind.index}.r{r}"
            lw.declare("matrix", name, kind.shape, **_placement_attrs(kind.cls, copies.get((kind.index, r))))
            writes.append(_instr("write", mat=Ref("mat", name), src=src_ref, layout=Sym(spec.layout),
                                 taps=list(kind.taps)))
            names.append(name)
        for rect in kind.rects:
            for name, part in zip(names, split_rect(rect, len(names)), strict=False):
                mmvs.append(_instr("mmv", dst=buf(dst), mat=Ref("mat", name), src=buf(spec.streamed),
                                   mode=Sym(spec.mode), rect=list(part.ranges), win=list(part.wins),
                                   acc=int(acc), pad=int(kind.padded)))
    return writes, mmvs


def _copies(pieces: tuple[Copy, ...]) -> dict[tuple[int, int], Copy]:
    """One record per copy: a copy that straddles tiles is several pieces (consecutive row slices);
    the copy starts at the first piece's tile and crossbar and spans all of their crossbars."""
    out: dict[tuple[int, int], Copy] = {}
    for c in pieces:
        key = (c.kind, c.replica)
        first = out.get(key)
        out[key] = c if first is None else Copy(first.kind, first.replica, first.tile, first.crossbar,
                                                 first.crossbars + c.crossbars, first.row_start,
                                                 first.row_slices + c.row_slices, first.col_slices)
    return out


def _placement_attrs(cls: str, copy: Copy | None) -> dict[str, Value]:
    attrs: dict[str, Value] = {"class": Sym(cls)}
    if copy:
        attrs.update(tile=Sym(copy.tile), xbar=copy.crossbar, crossbars=copy.crossbars, rs=copy.row_slices,
                     cs=copy.col_slices)
    return attrs


LOWER: dict[str, Callable[[Lowering, Op], list[Instr]]] = {
    **dict.fromkeys(ACTIVATIONS, _act), "act_grad": _act_grad, "batchnorm": _bn, "batchnorm_grad": _bn_grad,
    "reshape": _reshape, "flatten": _reshape, **dict.fromkeys(MATRIX_OPS, _matrix),
}
assert set(PHASES) >= set(PHASE_BANK)

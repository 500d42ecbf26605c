"""Lower the placed IR to a typed FSM :class:`Program`: declarations, per-op bodies, transfers.

:mod:`lergan_cc.lowering.states` arranges the bodies into the controller's states (one
training iteration = paper Fig. 7 then Fig. 8); the templates spell the result.
"""

from __future__ import annotations

from collections.abc import Callable

from lergan_cc.context import CompileContext
from lergan_cc.fsm.copies import spell_copies
from lergan_cc.fsm.isa import PHASES
from lergan_cc.fsm.program import Decl, Instr
from lergan_cc.fsm.values import Ref, Sym, Value
from lergan_cc.ir.attrs import Copy, DataParallel, Placement, PlacementSummary, Replicas, SourceModel
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import ActGrad, BatchNorm, BatchNormGrad, LeakyRelu, Op
from lergan_cc.lowering.dag import DAG_LOWER
from lergan_cc.lowering.kinds import MatrixSpec, matrix_spec
from lergan_cc.lowering.refs import buf, grad_name, param
from lergan_cc.lowering.refs import instr as _instr
from lergan_cc.targets.geometry import PHASE_BANK, Link, Topology
from lergan_cc.targets.hw import Hardware
from lergan_cc.views import view_fields

MATRIX_OPS = ("dense", "wdense", "sconv", "tconv", "wconv")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
PARAM_ROLES = {"weight": "weight", "bias": "bias", "scale": "bn_scale", "mean": "bn_mean", "var": "bn_var"}
NORM_ROLES = {("batchnorm", "bias"): "bn_bias", ("instancenorm", "scale"): "in_scale",
              ("instancenorm", "bias"): "in_bias"}
GRAD_SUFFIXES = (".wgrad", ".err")


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
        self.dp = g.get(DataParallel)
        self.bn_sync = ctx.options.bn_sync
        self.decls: dict[tuple[str, str], Decl] = {}
        self.programming: dict[str, list[tuple[str, Instr]]] = {}  # network -> (phase, write of a @param matrix)
        self.bodies: dict[str, list[Instr]] = {}
        # the runs of per-kind instructions of one op (its writes, its mmvs), the objects the bodies hold:
        # what emit-fsm spells as instruction tables (lergan_cc.fsm.tables.fold_states)
        self.runs: list[tuple[str, list[Instr]]] = []
        self.tiles: dict[str, str] = {}  # value -> tile where it is produced
        # buffers an op's instructions read and write besides its inputs and its value (a dropout's mask)
        self.reads: dict[str, tuple[str, ...]] = {}
        self.writes: dict[str, tuple[str, ...]] = {}
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

    def shards(self, phase: str) -> int:
        """Sample-parallel copies of a phase (1 without ``data-parallel``; host work is not sharded)."""
        return self.dp.of(phase) if self.dp is not None else 1

    def home_matrix(self, op: Op) -> Ref | None:
        """Where a sharded value of ``op`` lives: its own first matrix, else its layer's matrix in its phase,
        else a matrix of a consumer in its phase, else the phase's first matrix (shard s: that matrix's copy s)."""
        mats = [o for o in self.g.ops() if o.phase == op.phase and o.get(Placement) is not None]
        consumers = [c for c in self.g.consumers(op.name) if c.phase == op.phase]
        for cand in ([op], [o for o in mats if o.layer == op.layer], [c for c in consumers if c in mats], mats):
            for o in cand:
                kinds = o.get(Placement)
                if kinds is not None and kinds.copies:
                    return Ref("mat", matrix_name(o, min(c.kind for c in kinds.copies)))
        return None

    def value_attrs(self, op: Op, role: str) -> dict[str, Value]:
        attrs: dict[str, Value] = {"role": Sym(role), "bank": Sym(self.bank(op.phase)), "tile": Sym(self.tile_of(op))}
        k = self.shards(op.phase)
        home = self.home_matrix(op) if k > 1 else None
        if home is not None:
            attrs.update({"partials" if role == "grad" else "shards": k, "home": home})
        return attrs

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
                    roles.setdefault(ref, NORM_ROLES.get((op.OP, field), role))
        self.roles = roles
        source = self.g.get(SourceModel)
        views = source.params if source is not None else {}
        for name in sorted(self.g.params):
            net = name.split("/", 1)[0] if "/" in name and name.split("/", 1)[0] in ("G", "D") else ""
            attrs: dict[str, Value] = {"role": Sym(roles.get(name, "const"))}
            if net:
                attrs["net"] = Sym(net)
            if name in views:  # the model's own layout of the param, for the outputs (docs/onnx.md)
                attrs.update(view_fields(views[name], "source_"))
            self.declare("param", name, self.g.params[name].shape, **attrs)

    def declare_value(self, op: Op) -> None:
        self.declare("buffer", op.name, op.shape, **self.value_attrs(op, "input" if op.OP == "input" else "act"))
        self.tiles[op.name] = self.tile_of(op)

    def declare_grad(self, p: str, op: Op) -> str:
        """A gradient accumulator, homed where the op that first accumulates into it runs (as one partial sum
        per sample-parallel copy when the phase has several)."""
        self.declare("buffer", grad_name(p), self.g.params[p].shape, **self.value_attrs(op, "grad"))
        return grad_name(p)

    def sharded(self) -> bool:
        return self.dp is not None and any(k > 1 for k in self.dp.copies.values())

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


# ---- per-op rules ----------------------------------------------------------------------------------
def _act(lw: Lowering, op: Op) -> list[Instr]:
    alpha = op.alpha if isinstance(op, LeakyRelu) else 0.0
    return [_instr("act", dst=buf(op.name), src=buf(op.inputs[0]), fn=Sym(op.OP), alpha=float(alpha))]


def _act_grad(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, ActGrad)
    return [_instr("act_grad", dst=buf(op.name), y=buf(op.inputs[0]), dy=buf(op.inputs[1]), fn=Sym(op.fn),
                   alpha=float(op.alpha))]


def _sync(lw: Lowering, op: Op) -> dict[str, Value]:
    """Batch statistics over the whole batch (a reduce across the copies) or per shard (``--bn-sync``)."""
    return {"sync": Sym(lw.bn_sync)} if lw.shards(op.phase) > 1 else {}


def _bn(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, BatchNorm) and op.scale and op.bias and op.mean and op.var  # the verifier checks
    batch = op.phase != "fwd" or bool(op.batch_statistics)
    return [_instr("bn", dst=buf(op.name), src=buf(op.inputs[0]), scale=param(op.scale), bias=param(op.bias),
                   mean=param(op.mean), var=param(op.var), eps=float(op.epsilon),
                   stats=Sym("batch" if batch else "running"), **(_sync(lw, op) if batch else {}))]


def _bn_grad(lw: Lowering, op: Op) -> list[Instr]:
    fwd = lw.forward_of(op)
    assert isinstance(op, BatchNormGrad) and isinstance(fwd, BatchNorm) and op.scale and fwd.bias
    dscale = lw.declare_grad(op.scale, op)
    dbias = lw.declare_grad(fwd.bias, op)
    return [_instr("bn_grad", dst=buf(op.name), x=buf(op.inputs[0]), dy=buf(op.inputs[1]),
                   scale=param(op.scale), eps=float(op.epsilon), dscale=buf(dscale), dbias=buf(dbias),
                   **_sync(lw, op))]


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
    lw.runs += [(op.name, writes), (op.name, mmvs)]
    if spec.operand_is_param:
        lw.programming.setdefault(lw.net_of(spec.operand), []).extend((op.phase, w) for w in writes)
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


def matrix_name(op: Op, kind: int) -> str:
    return f"{op.name}.k{kind}"


def _kinds(lw: Lowering, op: Op, spec: MatrixSpec, dst: str, acc: bool) -> tuple[list[Instr], list[Instr]]:
    """One matrix declaration per kind, covering all its copies (the compact copy operand); one ``write``
    programs them all; an ``mmv`` per loop nest runs on every copy (``lergan_cc.fsm.copies``)."""
    replicas = op.need(Replicas).per_kind
    copies = _copies(op.need(Placement).copies)
    shards = lw.shards(op.phase)
    src_ref = param(spec.operand) if spec.operand_is_param else buf(spec.operand)
    writes, mmvs = [], []
    for kind in spec.kinds:
        n = max(1, int(replicas[kind.index]) if kind.index < len(replicas) else 1)
        name = matrix_name(op, kind.index)
        placed = [copies[(kind.index, s, r)] for s in range(shards) for r in range(n)]
        lw.declare("matrix", name, kind.shape, **_matrix_attrs(lw, kind.cls, n, placed))
        fanout: dict[str, Value] = {"fanout": Sym(lw.options.dp_programming)} if shards > 1 and spec.operand_is_param \
            else {}
        writes.append(_instr("write", mat=Ref("mat", name), src=src_ref, layout=Sym(spec.layout), taps=list(kind.taps),
                             **fanout))
        mmvs += [_instr("mmv", dst=buf(dst), mat=Ref("mat", name), src=buf(spec.streamed), mode=Sym(spec.mode),
                        rect=list(rect.ranges), win=list(rect.wins), acc=int(acc), pad=int(kind.padded))
                 for rect in kind.rects]
    return writes, mmvs


def _copies(pieces: tuple[Copy, ...]) -> dict[tuple[int, int, int], list[Copy]]:
    """The pieces of each (kind, shard, replica) in row-slice order: a copy that did not fit where its first
    slices went continues elsewhere in its bank (the next tile, or a gap)."""
    out: dict[tuple[int, int, int], list[Copy]] = {}
    for c in sorted(pieces, key=lambda c: c.row_start):
        out.setdefault((c.kind, c.shard, c.replica), []).append(c)
    return out


def _matrix_attrs(lw: Lowering, cls: str, replicas: int, placed: list[list[Copy]]) -> dict[str, Value]:
    per_tile = lw.hw.crossbars_per_tile
    first = placed[0]
    places = [(c[0].bank, _merged([(p.tile_index * per_tile + p.crossbar, p.crossbars) for p in c])) for c in placed]
    return {"class": Sym(cls), **spell_copies(replicas, sum(p.crossbars for p in first), places),
            "rs": sum(p.row_slices for p in first), "cs": first[0].col_slices}


def _merged(pieces: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Adjacent pieces (a copy running on into the next tile) as one range."""
    out: list[tuple[int, int]] = []
    for offset, n in pieces:
        if out and out[-1][0] + out[-1][1] == offset:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((offset, n))
    return tuple(out)


LOWER: dict[str, Callable[[Lowering, Op], list[Instr]]] = {
    **dict.fromkeys(ACTIVATIONS, _act), "act_grad": _act_grad, "batchnorm": _bn, "batchnorm_grad": _bn_grad,
    "reshape": _reshape, "flatten": _reshape, **dict.fromkeys(MATRIX_OPS, _matrix), **DAG_LOWER,
}
assert set(PHASES) >= set(PHASE_BANK)

"""What one instruction costs wherever it runs: latency, energy by component, resources, MMV rounds.

One function per opcode, registered in :data:`COSTERS`; everything that depends on *where*
data sits (operand moves, the route a weight takes from the host) is added by
:mod:`lergan_cc.sim.places`. Costs are closed forms over the instruction's loop nest and the
batch, never a loop over its instances, and never touch a tensor. ``docs/timing.md`` explains
every number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lergan_cc.fsm.copies import loop_nest
from lergan_cc.fsm.program import Decl, Instr, Program
from lergan_cc.fsm.values import Prog, Ref
from lergan_cc.sim.layout import Layout, Unit
from lergan_cc.targets.hw import Hardware

# Report categories (energy_breakdown) -> the fine components instructions charge.
BREAKDOWN: dict[str, tuple[str, ...]] = {
    "compute": ("adc", "dac", "sample_hold", "array", "shift_add", "alu"),
    "cell_writes": ("cell_writes",),
    "buffers": ("buffers",),
    "interconnect_htree": ("htree",),
    "interconnect_horizontal": ("horizontal",),
    "interconnect_vertical": ("vertical",),
    "interconnect_bypass": ("bypass",),
    "interconnect_bus": ("bus",),
    "switches": ("switches",),
    "host": ("host",),
}
MMV_PARTS = ("adc", "dac", "sample_hold", "array", "shift_add")

# Peripheral and buffer ops: (reads of the operand data, writes of the result, ALU ops per element).
# The element count is the result's (bias_grad: the operand's, reduced into per-channel sums).
PERIPHERAL: dict[str, tuple[int, int, int]] = {
    "act": (1, 1, 1), "act_grad": (2, 1, 2), "bn": (2, 1, 5), "bn_grad": (3, 1, 8), "bias": (1, 1, 1),
    "bias_grad": (1, 0, 1), "reshape": (0, 0, 0), "zero": (0, 1, 0), "zpad": (1, 1, 0), "load": (1, 1, 0),
    "store": (1, 1, 0), "add": (2, 1, 1),
    # DAG ops: like their nearest kin above (vadd as add, inorm as bn, insert/extract/pad/upsample as zpad)
    "vadd": (2, 1, 1), "insert": (1, 1, 0), "extract": (1, 1, 0), "pad": (1, 1, 0), "pad_grad": (1, 1, 1),
    "upsample": (1, 1, 0), "upsample_grad": (1, 1, 1), "inorm": (2, 1, 5), "inorm_grad": (3, 1, 8),
    "dropout": (1, 2, 2), "dropout_grad": (2, 1, 1),
}
# Ops whose operand and result differ in size: words read from src's elements, written from dst's, ALU ops
# per element of src. The rest count the result's elements (bias_grad and insert: the operand's).
RESIZING = frozenset({"zpad", "pad", "pad_grad", "upsample", "upsample_grad"})
COUNTED_BY_SRC = frozenset({"bias_grad", "insert"})
# Operands each opcode reads and writes (names of operands holding a buffer, param or matrix).
# "part": a write that only adds to or fills a part of its destination, so writes of one group
# (the kinds of a layer, accumulating gradients) need not wait for each other.
READS: dict[str, tuple[str, ...]] = {
    "write": ("src",), "zpad": ("src",), "load": ("src",), "store": ("src",), "mmv": ("mat", "src"),
    "add": ("dst", "src"), "act": ("src",), "act_grad": ("y", "dy"), "bn": ("src",), "bn_grad": ("x", "dy"),
    "reduce": ("dst",), "vadd": ("a", "b"), "insert": ("src",), "extract": ("src",), "pad": ("src",),
    "pad_grad": ("src",), "upsample": ("src",), "upsample_grad": ("src",), "inorm": ("src",), "inorm_grad": ("x", "dy"),
    "dropout": ("src",), "dropout_grad": ("dy", "mask"),
    "bias": ("dst",), "bias_grad": ("src",), "reshape": ("src",), "xfer": ("src",), "host.output": ("src",),
    "host.loss": ("src",), "host.loss_grad": ("src",), "host.sgd": ("grad", "param"),
}
WRITES: dict[str, tuple[str, ...]] = {
    "write": ("mat",), "zero": ("dst",), "zpad": ("dst",), "load": ("dst",), "store": ("dst",), "add": ("dst",),
    "act": ("dst",), "act_grad": ("dst",), "bn": ("dst",), "bn_grad": ("dst",), "bias": ("dst",),
    "reshape": ("dst",), "xfer": ("dst",), "host.input": ("dst",), "host.loss_grad": ("dst",),
    "host.sgd": ("param",), "vadd": ("dst",), "extract": ("dst",), "pad": ("dst",), "pad_grad": ("dst",),
    "upsample": ("dst",), "upsample_grad": ("dst",), "inorm": ("dst",), "inorm_grad": ("dst",),
    "dropout": ("dst", "mask"), "dropout_grad": ("dst",),
}
PART_WRITES: dict[str, tuple[str, ...]] = {
    "mmv": ("dst",), "bias_grad": ("dst",), "bn_grad": ("dscale", "dbias"), "reduce": ("dst",), "insert": ("dst",),
    "inorm_grad": ("dscale", "dbias"),
}


@dataclass
class Cost:
    """``unit``: the kind of place it occupies besides ``resources`` (``tile`` -> the tile it runs on)."""

    ns: float = 0.0
    energy: dict[str, float] = field(default_factory=dict)
    resources: tuple[str, ...] = ()
    traffic: dict[str, float] = field(default_factory=dict)  # wire kind -> bytes x hops
    unit: str | None = None
    rounds: int = 0  # MMV rounds per sample on this instruction's crossbars
    rounds_total: int = 0  # crossbar-set rounds over the whole batch
    crossbars: int = 0

    def add(self, other: Cost) -> Cost:
        """Both, one after the other (times add)."""
        out = Cost(self.ns + other.ns, dict(self.energy), tuple(dict.fromkeys(self.resources + other.resources)),
                   dict(self.traffic), self.unit or other.unit, self.rounds + other.rounds,
                   self.rounds_total + other.rounds_total, max(self.crossbars, other.crossbars))
        for k, v in other.energy.items():
            out.energy[k] = out.energy.get(k, 0.0) + v
        for k, v in other.traffic.items():
            out.traffic[k] = out.traffic.get(k, 0.0) + v
        return out


class Context:
    """The program's tables and hardware, and the per-buffer sizes the costs need."""

    def __init__(self, program: Program, hw: Hardware) -> None:
        self.program, self.hw, self.batch = program, hw, program.batch
        self.buffers, self.matrices = program.table("buffer"), program.table("matrix")
        self.params = program.table("param")
        self.word_bits = hw.htree_width(hw.htree_depth)  # one BArray access / leaf-link word: 128 bits
        self.value_bits = hw.precision.input_bits
        self.layout = Layout(program, hw.crossbars_per_tile)
        self.mmv = hw.mmv  # (derived properties of the hardware, computed anew on every read: read once here)
        self.weight_columns = hw.weight_columns_per_crossbar

    def elements(self, ref: Ref, samples: int | None = None) -> int:
        """Values of a buffer over ``samples`` (default the batch; a gradient buffer has no batch axis), or
        of a param."""
        if ref.kind == "param":
            return math.prod(self.params[ref.name].shape)
        d = self.buffers[ref.name]
        n = math.prod(d.shape)
        return n if d.attrs.get("role") == "grad" else n * (self.batch if samples is None else samples)

    def nbytes(self, ref: Ref, samples: int | None = None) -> int:
        return self.elements(ref, samples) * self.value_bits // 8

    def words(self, elements: int) -> int:
        return -(-elements * self.value_bits // self.word_bits)

    def crossbars(self, mat: Decl) -> int:
        g, rows, cols = mat.shape
        hw = self.hw
        return g * -(-rows // hw.crossbar.rows) * -(-cols // self.weight_columns)

    def bank_of(self, ref: Ref) -> str:
        d = self.buffers.get(ref.name)
        return str(d.attrs.get("bank", "B1")) if d else "B1"


# ---- crossbars ---------------------------------------------------------------------------------------
def mmv_rounds(ins: Instr, ctx: Context, rect: tuple[Prog, ...] | None = None) -> int:
    """Rounds per sample on one copy: one per output position of its loop nest (forward); a weight-gradient
    matrix holds one sample's dy, so every input channel of the group is a pass of its own."""
    o = ins.operands
    mat = ctx.matrices[_ref(o["mat"]).name]
    positions = math.prod(p.count for p in (rect if rect is not None else loop_nest(o["rect"])))
    if str(o["mode"]) == "fwd":
        return positions
    channels = ctx.buffers[_ref(o["src"]).name].shape[0]
    return channels // mat.shape[0] * positions


def _mmv(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    """One copy's share of the loop nest, over its shard's samples."""
    hw, o = ctx.hw, ins.operands
    name = _ref(o["mat"]).name
    mat = ctx.matrices[name]
    g, rows, cols = mat.shape
    xbars = ctx.crossbars(mat)
    per_sample = mmv_rounds(ins, ctx, unit.part.ranges if unit.part is not None else None)
    total = per_sample * unit.count
    m = ctx.mmv
    energy = {part: total * xbars * getattr(m, f"{part}_pj") for part in MMV_PARTS}
    row_slices = -(-rows // hw.crossbar.rows)
    energy["alu"] = total * g * cols * (row_slices - 1) * hw.interconnect.adder_pj_per_add
    energy["buffers"] = total * (ctx.words(g * rows) * hw.tile.read_pj + ctx.words(g * cols) * hw.tile.write_pj)
    resource = f"xbar:{ctx.layout.copy_name(name, unit.copy or 0)}"
    return Cost(total * m.latency_ns, energy, (resource,), rounds=per_sample, rounds_total=total, crossbars=xbars)


def _write(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    """Cell writes of one copy: every 128-bit word of every crossbar row, rows one after another, crossbars in
    parallel. From a buffer (a weight gradient's dy) the copy is rewritten for every sample of its shard."""
    hw, o = ctx.hw, ins.operands
    name = _ref(o["mat"]).name
    g, rows, cols = ctx.matrices[name].shape
    times = 1 if _ref(o["src"]).kind == "param" else unit.count
    row_bits = cols * hw.precision.weight_bits
    words = g * rows * -(-row_bits // ctx.word_bits) * times
    energy = {"cell_writes": words * hw.tile.write_pj}
    if _ref(o["src"]).kind == "buf":
        energy["buffers"] = ctx.words(g * rows * cols) * times * hw.tile.read_pj
    ns = min(rows, hw.crossbar.rows) * hw.tile.write_ns * times
    resource = f"xbar:{ctx.layout.copy_name(name, unit.copy or 0)}"
    return Cost(ns, energy, (resource,), crossbars=ctx.crossbars(ctx.matrices[name]))


def _ref(v: object) -> Ref:
    assert isinstance(v, Ref)
    return v


# ---- buffers and peripherals -------------------------------------------------------------------------
def _peripheral(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    """Tile peripherals stream one BArray word per I/O cycle after one read and one write latency."""
    hw, o = ctx.hw, ins.operands
    reads, writes, alu = PERIPHERAL[ins.op]
    ref = _ref(o["src"] if ins.op in COUNTED_BY_SRC else o["dst"])
    n = ctx.elements(ref, unit.count)
    if ins.op in RESIZING:
        n_src = ctx.elements(_ref(o["src"]), unit.count)
        r_words, w_words = reads * ctx.words(n_src), writes * ctx.words(n)
        n = n_src
    else:
        r_words, w_words = reads * ctx.words(n), writes * ctx.words(n)
    if reads + writes == 0:
        return Cost(unit="tile")
    energy = {"buffers": r_words * hw.tile.read_pj + w_words * hw.tile.write_pj,
              "alu": n * alu * hw.interconnect.adder_pj_per_add}
    ns = hw.tile.read_ns * (r_words > 0) + hw.tile.write_ns * (w_words > 0) + max(r_words, w_words) * hw.io_cycle_ns
    return Cost(ns, energy, unit="tile")


# ---- host --------------------------------------------------------------------------------------------
def _host_compute(ctx: Context, elements: int, per_ns: float, per_pj: float) -> Cost:
    return Cost(elements * per_ns, {"host": elements * per_pj}, ("host",))


def _host_loss(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    hw = ctx.hw
    return _host_compute(ctx, ctx.elements(_ref(ins.operands["src"]), unit.count), hw.host_loss_ns_per_element,
                         hw.host_loss_pj_per_element)


def _host_update(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    """SGD (and copying an input or output through the host): one element per core cycle."""
    hw = ctx.hw
    ref = _ref(ins.operands.get("grad") or ins.operands.get("dst") or ins.operands["src"])
    return _host_compute(ctx, ctx.elements(ref, unit.count), hw.host_update_ns_per_element,
                         hw.host_update_pj_per_element)


def _free(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    return Cost()


# opcode -> its cost function. A cost may depend on the unit's samples (``count``), its share of the loop nest
# (``part``) and its copy (``copy``), not on which samples or piece it is: the fast timing path computes it once
# per instruction and distinct (count, part, copy).
COSTERS: dict[str, Callable[[Instr, Context, Unit], Cost]] = {
    "mmv": _mmv, "write": _write, **dict.fromkeys(PERIPHERAL, _peripheral),
    "host.loss": _host_loss, "host.loss_grad": _host_loss, "host.input": _host_update,
    "host.output": _host_update, "host.sgd": _host_update,
    "xfer": _free, "layer": _free, "barrier": _free, "setmode": _free, "setswitch": _free, "reduce": _free,
}


def static_cost(ins: Instr, ctx: Context, unit: Unit) -> Cost:
    return COSTERS[ins.op](ins, ctx, unit)


def refs(ins: Instr, table: dict[str, tuple[str, ...]]) -> list[Any]:
    """The named operands of ``ins`` listed for its opcode in ``table`` (READS, WRITES, PART_WRITES)."""
    return [ins.operands[k] for k in table.get(ins.op, ()) if isinstance(ins.operands.get(k), Ref)]

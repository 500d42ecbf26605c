"""The functional interpreter: buffers, crossbar contents, host registers, one closure per instruction.

Each instruction is compiled once (operands resolved, index grids built, ranges checked
against the declarations) into a closure over the :class:`Machine`; running a state is
calling its closures in order. A failure names the instruction's file:line:column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lergan_cc.errors import LerganError, SourceError
from lergan_cc.fsm.program import Instr, Program
from lergan_cc.fsm.values import Prog, Ref, Win, seq_values
from lergan_cc.sim import fast as F
from lergan_cc.sim import kernels as K
from lergan_cc.sim.costs import PART_WRITES, WRITES, refs
from lergan_cc.sim.fixed import quantize

Step = Callable[["Machine"], None]


@dataclass
class Host:
    """What the host CPU holds: run-time inputs for this iteration, outputs, learning rate, loss choice."""

    inputs: Callable[[str], np.ndarray]
    lr: float = 0.0002
    g_loss: str = "saturating"
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Machine:
    program: Program
    path: str
    params: dict[str, np.ndarray]
    host: Host
    bufs: dict[str, np.ndarray] = field(default_factory=dict)
    mats: dict[str, np.ndarray] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    precision: str = "float32"
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        b = self.program.batch
        self.version: dict[str, int] = {}
        self.cache: dict[tuple[str, ...], tuple[Any, np.ndarray]] = {}
        self.hw = self.program.hardware(self.path) if self.fixed else None
        self.buffers = self.program.table("buffer")
        self.matrices = self.program.table("matrix")
        for d in self.buffers.values():
            self.bufs[d.name] = np.zeros(self.full_shape(d.name), dtype=np.float32)
        self.batch = b

    def full_shape(self, name: str) -> tuple[int, ...]:
        d = self.buffers[name]
        return d.shape if d.attrs.get("role") == "grad" else (self.program.batch, *d.shape)

    def put(self, name: str, value: np.ndarray) -> None:
        want = self.full_shape(name)
        if value.shape != want:
            raise ValueError(f"result shape {list(value.shape)} does not fit %{name} {list(want)}")
        self.bufs[name] = value.astype(np.float32, copy=False)

    @property
    def fixed(self) -> bool:
        return self.precision == "fixed16"

    def quantize(self, x: np.ndarray, which: str) -> np.ndarray:
        """Round to the hardware's input/weight/output width under ``--precision fixed16``."""
        if not self.fixed:
            return x
        return quantize(x, getattr(self.hw.precision, f"{which}_bits"))

    def streamed(self, name: str) -> np.ndarray:
        """A buffer as the crossbars stream it: channels last with a zero slot (cached until it changes)."""
        key = ("cl", name)
        hit = self.cache.get(key)
        if hit is None or hit[0] != self.version.get(name, 0):
            hit = (self.version.get(name, 0), self.quantize(F.channels_last(self.bufs[name]), "input"))
            self.cache[key] = hit
        return hit[1]

    def memo(self, key: tuple[str, ...], stamp: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        """``make()``, recomputed only when ``stamp`` (a buffer version, a param array) changes."""
        hit = self.cache.get(key)
        if hit is None or not (hit[0] is stamp or (type(stamp) is int and hit[0] == stamp)):
            hit = (stamp, make())
            self.cache[key] = hit
        return hit[1]

    def weight_t(self, name: str, layout: str) -> np.ndarray:
        """A param as ``(K..., C, M)`` (cached until the host updates it)."""
        key = ("wt", name, layout)
        w = self.params[name]
        hit = self.cache.get(key)
        if hit is None or hit[0] is not w:
            hit = (w, F.transposed_weight(w, layout))
            self.cache[key] = hit
        return hit[1]


def compile_instr(ins: Instr, m: Machine) -> Step:
    """The closure that executes ``ins``; static errors (ranges, shapes) are raised here."""
    try:
        step = COMPILERS[ins.op](ins.operands, m)
    except (ValueError, IndexError, KeyError) as e:
        raise SourceError(m.path, ins.line, ins.column, f"{ins.op}: {e}") from None
    changed = [r.name for r in refs(ins, WRITES) + refs(ins, PART_WRITES) if r.kind == "buf"]

    def run(machine: Machine) -> None:
        try:
            step(machine)
        except (ValueError, IndexError, FloatingPointError) as e:
            raise SourceError(machine.path, ins.line, ins.column, f"{ins.op}: {e}") from None
        for name in changed:
            machine.version[name] = machine.version.get(name, 0) + 1
    return run


def _n(v: Any) -> str:
    assert isinstance(v, Ref)
    return v.name


# ---- crossbars -----------------------------------------------------------------------------------------
def _write(o: dict[str, Any], m: Machine) -> Step:
    mat, src, layout = _n(o["mat"]), o["src"], str(o["layout"])
    decl = m.matrices[mat]
    groups = decl.shape[0]
    taps = [seq_values(t) for t in o["taps"]]
    if src.kind == "param":
        cut = K.weight_matrix(m.params[src.name], layout, groups, taps)
        if cut.shape != decl.shape:
            raise ValueError(f"cut {list(cut.shape)} does not fit ${mat} {list(decl.shape)}")
        if groups == 1:  # rows (taps, channel): see lergan_cc.sim.fast; replicas share one cut
            key = ("cut", src.name, layout, repr(taps))
            return lambda mm: mm.mats.__setitem__(mat, mm.memo(key, mm.params[src.name], lambda: mm.quantize(
                F.weight_rows(mm.weight_t(src.name, layout), taps), "weight")))

        def run(mm: Machine) -> None:
            mm.mats[mat] = mm.quantize(K.weight_matrix(mm.params[src.name], layout, groups, taps), "weight")
        return run
    if layout != "grad":
        raise ValueError("a matrix written from a buffer must use layout=grad")
    shape = m.full_shape(src.name)
    for a, t in enumerate(taps):
        if min(t) < 0 or max(t) >= shape[2 + a]:
            raise ValueError(f"taps of axis {a} outside %{src.name} {list(shape)}")

    want = math.prod(len(t) for t in taps) * m.full_shape(src.name)[1]
    if decl.shape[1] * decl.shape[2] * groups != want:
        raise ValueError(f"taps of %{src.name} do not fit ${mat} {list(decl.shape)}")
    if groups == 1:
        key = ("dy", src.name, repr(taps))
        return lambda mm: mm.mats.__setitem__(mat, mm.memo(key, mm.version.get(src.name, 0), lambda: mm.quantize(
            F.grad_rows(mm.bufs[src.name], taps), "weight")))

    def run_grad(mm: Machine) -> None:
        mm.mats[mat] = mm.quantize(K.grad_matrix(mm.bufs[src.name], groups, taps), "weight")
    return run_grad


def _mmv(o: dict[str, Any], m: Machine) -> Step:
    dst, mat, src = _n(o["dst"]), _n(o["mat"]), _n(o["src"])
    rect: list[Prog] = o["rect"]
    win: list[Win] = o["win"]
    mode, acc, pad = str(o["mode"]), bool(o["acc"]), bool(o["pad"])
    src_shape, dst_shape = m.full_shape(src), m.full_shape(dst)
    rank = len(rect)
    if len(win) != rank or len(src_shape) != 2 + rank:
        raise ValueError(f"rect/win of rank {rank} do not fit %{src} {list(src_shape)}")
    grids = K.window_grids([p.start for p in rect], [p.count for p in rect], [w.a for w in win],
                           [seq_values(w.seq) for w in win])
    sizes = src_shape[2:]
    bad = [(g < 0) | (g >= n) for g, n in zip(grids, sizes, strict=True)]
    if any(b.any() for b in bad) and not pad:
        raise ValueError(f"window reads outside %{src} {list(src_shape)} (pad=0)")
    grids = tuple(np.where(b, n, g) for g, b, n in zip(grids, bad, sizes, strict=True))
    slices = tuple(slice(p.start, p.start + p.step * (p.count - 1) + 1, p.step) for p in rect)
    if len(dst_shape) != 2 + rank or any(p.start + p.step * (p.count - 1) >= n
                                         for p, n in zip(rect, dst_shape[2:], strict=True)):
        raise ValueError(f"loop nest writes outside %{dst} {list(dst_shape)}")
    index = (slice(None), slice(None), *slices)
    widths = [(0, 0), (0, 0)] + [(0, 1)] * rank
    store = _accumulate if acc else _assign
    if m.matrices[mat].shape[0] == 1:
        return _mmv_fast(o, m, (dst, mat, src), index, store)

    def operand(mm: Machine) -> np.ndarray:
        x = mm.bufs[src]
        return K.gather_window(np.pad(x, widths) if pad else x, grids)

    def xs(mm: Machine) -> np.ndarray:
        return mm.quantize(operand(mm), "input")

    if mode == "fwd":
        return lambda mm: store(mm, dst, index, mm.quantize(K.mmv_forward(xs(mm), mm.mats[mat], rank), "output"))
    layout = mode.split("_")[1]
    return lambda mm: store(mm, dst, index, mm.quantize(K.mmv_wgrad(xs(mm), mm.mats[mat], rank, layout), "output"))


def _assign(mm: Machine, dst: str, index: tuple[Any, ...], res: np.ndarray) -> None:
    mm.bufs[dst][index] = res


def _accumulate(mm: Machine, dst: str, index: tuple[Any, ...], res: np.ndarray) -> None:
    mm.bufs[dst][index] += res


def _mmv_fast(o: dict[str, Any], m: Machine, names: tuple[str, str, str], index: tuple[Any, ...],
              store: Callable[[Machine, str, tuple[Any, ...], np.ndarray], None]) -> Step:
    """An ungrouped matrix: the whole nest and batch as one GEMM on the channels-last operand."""
    dst, mat, src = names
    rect, win, mode = o["rect"], o["win"], str(o["mode"])
    counts = [p.count for p in rect]
    idx, _ = F.flat_window(counts, [w.a for w in win], [seq_values(w.seq) for w in win], m.full_shape(src)[2:])
    if mode == "fwd":
        return lambda mm: store(mm, dst, index, mm.quantize(
            F.mmv_forward(mm.streamed(src), idx, mm.mats[mat], counts), "output"))
    layout = mode.split("_")[1]
    return lambda mm: store(mm, dst, index, mm.quantize(
        F.mmv_wgrad(mm.streamed(src), idx, mm.mats[mat], counts, layout), "output"))


# ---- buffers and peripherals ---------------------------------------------------------------------------
def _zero(o: dict[str, Any], m: Machine) -> Step:
    dst = _n(o["dst"])
    return lambda mm: mm.bufs[dst].fill(0.0)


def _zpad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    shape, stride, before = m.full_shape(dst), list(o["stride"]), list(o["before"])
    if not len(stride) == len(before) == len(shape) - 2 == len(m.full_shape(src)) - 2:
        raise ValueError("stride/before do not fit the buffers' rank")
    return lambda mm: mm.put(dst, K.zpad(mm.bufs[src], shape, stride, before))


def _copy(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    if dst == src:  # a move of the same buffer between tiles: no change to the numbers
        return lambda mm: None
    if m.full_shape(dst) != m.full_shape(src):
        raise ValueError(f"%{src} {list(m.full_shape(src))} and %{dst} {list(m.full_shape(dst))} differ")
    return lambda mm: mm.put(dst, mm.bufs[src].copy())


def _add(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    return lambda mm: mm.put(dst, mm.bufs[dst] + mm.bufs[src])


def _reshape(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    shape = m.full_shape(dst)
    if np.prod(shape) != np.prod(m.full_shape(src)):
        raise ValueError(f"cannot reshape %{src} {list(m.full_shape(src))} to {list(shape)}")
    return lambda mm: mm.put(dst, mm.bufs[src].reshape(shape))


def _act(o: dict[str, Any], m: Machine) -> Step:
    dst, src, fn, alpha = _n(o["dst"]), _n(o["src"]), K.ACT[str(o["fn"])], float(o["alpha"])
    return lambda mm: mm.put(dst, fn(mm.bufs[src], alpha))


def _act_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, y, dy, fn, alpha = _n(o["dst"]), _n(o["y"]), _n(o["dy"]), K.ACT_GRAD[str(o["fn"])], float(o["alpha"])
    return lambda mm: mm.put(dst, fn(mm.bufs[y], mm.bufs[dy], alpha))


def _bn(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    names = [_n(o[k]) for k in ("scale", "bias", "mean", "var")]
    eps, batch = float(o["eps"]), str(o["stats"]) == "batch"
    return lambda mm: mm.put(dst, K.batchnorm(mm.bufs[src], *(mm.params[n] for n in names), eps, batch))


def _bn_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, x, dy, scale = _n(o["dst"]), _n(o["x"]), _n(o["dy"]), _n(o["scale"])
    if ("dscale" in o) != ("dbias" in o):
        raise ValueError("give both dscale and dbias, or neither")
    dscale, dbias, eps = _n(o.get("dscale", o["dst"])), _n(o.get("dbias", o["dst"])), float(o["eps"])
    train = "dscale" in o

    def run(mm: Machine) -> None:
        dx, ds, db = K.batchnorm_grad(mm.bufs[x], mm.bufs[dy], mm.params[scale], eps)
        mm.put(dst, dx)
        if train:
            mm.bufs[dscale] += ds
            mm.bufs[dbias] += db
    return run


def _bias(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    nd = len(m.full_shape(dst))
    return lambda mm: mm.put(dst, mm.bufs[dst] + mm.params[src].reshape((1, -1) + (1,) * (nd - 2)))


def _bias_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    axes = (0, *range(2, len(m.full_shape(src))))

    def run(mm: Machine) -> None:
        mm.bufs[dst] += mm.bufs[src].sum(axis=axes)
    return run


def _nothing(o: dict[str, Any], m: Machine) -> Step:
    return lambda mm: None


# ---- host ----------------------------------------------------------------------------------------------
def _input(o: dict[str, Any], m: Machine) -> Step:
    dst, key = _n(o["dst"]), str(o["key"])

    def run(mm: Machine) -> None:
        value = mm.host.inputs(key)
        if value.shape != mm.full_shape(dst):
            raise LerganError(f"input '{key}': shape {list(value.shape)}, the program needs "
                              f"{list(mm.full_shape(dst))}")
        mm.put(dst, value)
    return run


def _output(o: dict[str, Any], m: Machine) -> Step:
    src, key = _n(o["src"]), str(o["key"])

    def run(mm: Machine) -> None:
        mm.host.outputs[key] = mm.bufs[src].copy()
    return run


def _loss(o: dict[str, Any], m: Machine) -> Step:
    dst, src, form, term = str(o["dst"]), _n(o["src"]), str(o["form"]), str(o["term"])

    def run(mm: Machine) -> None:
        mm.losses[dst] = mm.losses.get(dst, 0.0) + K.loss_term(mm.bufs[src], term, form, mm.host.g_loss)
    return run


def _loss_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src, form, term = _n(o["dst"]), _n(o["src"]), str(o["form"]), str(o["term"])
    return lambda mm: mm.put(dst, K.loss_term_grad(mm.bufs[src], term, form, mm.host.g_loss))


def _sgd(o: dict[str, Any], m: Machine) -> Step:
    p, grad = _n(o["param"]), _n(o["grad"])
    if tuple(m.params[p].shape) != m.full_shape(grad):
        raise ValueError(f"@{p} {list(m.params[p].shape)} and %{grad} {list(m.full_shape(grad))} differ")

    def run(mm: Machine) -> None:
        mm.params[p] = (mm.params[p] - np.float32(mm.host.lr) * mm.bufs[grad]).astype(np.float32)
    return run


COMPILERS: dict[str, Callable[[dict[str, Any], Machine], Step]] = {
    "write": _write, "mmv": _mmv, "zero": _zero, "zpad": _zpad, "load": _copy, "store": _copy, "xfer": _copy,
    "add": _add, "reshape": _reshape, "act": _act, "act_grad": _act_grad, "bn": _bn, "bn_grad": _bn_grad,
    "bias": _bias, "bias_grad": _bias_grad, "layer": _nothing, "setmode": _nothing, "setswitch": _nothing,
    "barrier": _nothing, "host.input": _input, "host.output": _output, "host.loss": _loss,
    "host.loss_grad": _loss_grad, "host.sgd": _sgd,
}

"""IR matrix op -> what the program does with it: kinds (crossbar matrices) and their loop nests.

A zfdr/deform plan (``reshape`` attribute) is taken as written: every kind's taps become a
``write``'s tap sequences, every rectangle an ``mmv`` loop nest with its affine window. The
normal mapping is the same form with one kind over the whole result and a zero-inserted
(``zpad``) operand; a dense layer is a rank-0 convolution (no loop, one tap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lergan_cc.fsm.copies import Rect
from lergan_cc.fsm.values import Prog, Win, seq
from lergan_cc.ir.attrs import Reshape
from lergan_cc.ir.conv import conv_geometry
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Dense, Op, WConv, _Conv
from lergan_cc.zerofree import ReshapePlan
from lergan_cc.zerofree.analysis import dilated_gradient_length, zero_inserted_length
from lergan_cc.zerofree.geometry import ConvGeometry


@dataclass(frozen=True)
class KindSpec:
    index: int
    cls: str
    taps: tuple[Prog | tuple[int, ...], ...]
    shape: tuple[int, int, int]  # (groups, rows, cols)
    rects: tuple[Rect, ...]
    padded: bool = False


@dataclass(frozen=True)
class Zpad:
    """A zero-inserted copy of ``src`` the normal mapping streams: ``dst[before + stride*i] = src[i]``."""

    dst: str
    src: str
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    before: tuple[int, ...]


@dataclass(frozen=True)
class MatrixSpec:
    """Everything the emitter needs for one matrix op."""

    streamed: str  # buffer the mmv reads (the op's input or its zpad copy)
    operand: str  # param name (forward) or buffer name (dy of a weight gradient)
    operand_is_param: bool
    layout: str
    mode: str
    kinds: tuple[KindSpec, ...]
    zpads: tuple[Zpad, ...] = field(default=())


def matrix_spec(g: Graph, op: Op) -> MatrixSpec:
    if op.OP == "dense":
        return _dense(g, op)
    if op.OP == "wdense":
        return _wdense(g, op)
    assert isinstance(op, _Conv)
    geo = conv_geometry(g, op)
    plan = op.need(Reshape).plan
    kinds = _plan_kinds(plan) if isinstance(plan, ReshapePlan) else None
    x, dy = op.inputs[0], (op.inputs[1] if isinstance(op, WConv) else None)
    operand, is_param = (dy, False) if geo.is_wgrad else (op.weight, True)
    assert operand is not None, f"{op.name}: no weight"
    layout = "grad" if geo.is_wgrad else geo.kind
    mode = {"wconv": "wgrad_mck", "wconv_t": "wgrad_cmk"}.get(geo.kind, "fwd")
    if kinds is not None:
        return MatrixSpec(x, operand, is_param, layout, mode, kinds)
    kind, zpads = _normal(op.name, geo, x, dy)
    streamed = zpads[0].dst
    if geo.kind == "wconv":
        operand = zpads[1].dst
    return MatrixSpec(streamed, operand, is_param, layout, mode, (kind,), tuple(zpads))


def _dense(g: Graph, op: Op) -> MatrixSpec:
    assert isinstance(op, Dense) and op.weight is not None
    (_, _, _, shape), = op.need(Reshape).matrices()
    kind = KindSpec(0, "Normal", (), shape, (Rect((), ()),))
    layout = "dense_t" if op.transposed else "dense"
    return MatrixSpec(op.inputs[0], op.weight, True, layout, "fwd", (kind,))


def _wdense(g: Graph, op: Op) -> MatrixSpec:
    """dW = x^T dy, one sample's outer product per pass. The longer of x and dy is written into the
    crossbars and the shorter one streamed, one element per MMV round: min(in, units) rounds per sample
    (DCGAN D5, 16384 -> 1: one round instead of 16384). Both orientations yield dW as (in, units)."""
    x, dy = op.inputs
    features, units = g.op(x).shape[0], g.op(dy).shape[0]
    if units < features:
        kind = KindSpec(0, "Normal", (), (1, 1, features), (Rect((), ()),))
        return MatrixSpec(dy, x, False, "grad", "wgrad_mck", (kind,))
    kind = KindSpec(0, "Normal", (), (1, 1, units), (Rect((), ()),))
    return MatrixSpec(x, dy, False, "grad", "wgrad_cmk", (kind,))


def _plan_kinds(plan: ReshapePlan) -> tuple[KindSpec, ...]:
    out = []
    for k in plan.kinds:
        rects = tuple(Rect(tuple(Prog(r.start, r.step, r.count) for r in rect.ranges),
                           tuple(Win(m.a, seq(m.b)) for m in rect.maps)) for rect in k.rectangles)
        out.append(KindSpec(k.index, k.cls, tuple(seq(t) for t in k.taps), plan.matrix_shape(k), rects, k.padded))
    return tuple(out)


def _normal(name: str, geo: ConvGeometry, x: str, dy: str | None) -> tuple[KindSpec, list[Zpad]]:
    """One kind over every result position; operands zero-inserted/padded as the baseline stores them."""
    n, kind = geo.rank, geo.kind
    transposed = geo.transposed
    zin_len, zin_before, zin_stride = [], [], []
    ranges, wins, taps = [], [], []
    dy_len = []
    for a in range(n):
        s, d, k, pb = geo.stride[a], geo.dilation[a], geo.kernel[a], geo.pads[a]
        if transposed:
            zin_len.append(zero_inserted_length(geo, a))
            zin_before.append((k - 1) * d - pb)
            zin_stride.append(s)
        else:
            zin_len.append(geo.input_size[a] + pb + geo.pads[a + n])
            zin_before.append(pb)
            zin_stride.append(1)
        if kind == "wconv":
            dy_len.append(dilated_gradient_length(geo, a))
        result, win, tap = _normal_axis(geo, a)
        ranges.append(result)
        wins.append(win)
        taps.append(tap)
    zpads = [Zpad(f"{name}.zin", x, (geo.in_channels, *zin_len), tuple(zin_stride), tuple(zin_before))]
    if kind == "wconv":
        assert dy is not None
        zpads.append(Zpad(f"{name}.zdy", dy, (geo.out_channels, *dy_len), geo.stride, (0,) * n))
    t = math.prod(p.count for p in taps)
    rows = t if geo.is_wgrad else geo.in_per_group * t
    spec = KindSpec(0, "Normal", tuple(taps), (geo.group, rows, geo.out_per_group), (Rect(tuple(ranges), tuple(wins)),))
    return spec, zpads


def _normal_axis(geo: ConvGeometry, a: int) -> tuple[Prog, Win, Prog]:
    """One axis of the normal mapping: result positions, the affine window, the taps of the matrix."""
    s, d, k, o = geo.stride[a], geo.dilation[a], geo.kernel[a], geo.output_size[a]
    if geo.kind == "tconv":
        return Prog(0, 1, o), Win(1, Prog(d * (k - 1), -d, k)), Prog(0, 1, k)
    if geo.kind == "sconv":
        return Prog(0, 1, o), Win(s, Prog(0, d, k)), Prog(0, 1, k)
    if geo.kind == "wconv":
        length = dilated_gradient_length(geo, a)
        return Prog(0, 1, k), Win(d, Prog(0, 1, length)), Prog(0, 1, length)
    return Prog(0, 1, k), Win(-d, Prog(d * (k - 1), 1, o)), Prog(0, 1, o)

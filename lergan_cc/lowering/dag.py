"""The instructions of the DAG ops (residual add, concat, pad, instance norm, nearest upsample, dropout) and
of their gradients: all run in the tile peripherals and buffers of their phase's bank (``docs/ISA.md``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Sym, Value
from lergan_cc.ir.ops import (
    Concat,
    Dropout,
    InstanceNorm,
    InstanceNormGrad,
    Op,
    Pad,
    PadGrad,
    Slice,
    Upsample,
    UpsampleGrad,
)
from lergan_cc.lowering.refs import buf, instr, param

if TYPE_CHECKING:
    from lergan_cc.lowering.lower import Lowering


def _add(lw: Lowering, op: Op) -> list[Instr]:
    a, b = op.inputs
    return [instr("vadd", dst=buf(op.name), a=buf(a), b=buf(b))]


def _concat(lw: Lowering, op: Op) -> list[Instr]:
    """One insert per input, each at the running offset along the axis."""
    assert isinstance(op, Concat)
    out, at = [], 0
    for x in op.inputs:
        out.append(instr("insert", dst=buf(op.name), src=buf(x), axis=op.axis, at=at))
        at += lw.g.op(x).shape[op.axis]
    return out


def _slice(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, Slice)
    return [instr("extract", dst=buf(op.name), src=buf(op.inputs[0]), axis=op.axis, at=op.start)]


def _pad(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, (Pad, PadGrad))
    n = len(op.pads) // 2
    operands: dict[str, Value] = dict(dst=buf(op.name), src=buf(op.inputs[0]), mode=Sym(op.mode),
                                      before=list(op.pads[:n]), after=list(op.pads[n:]))
    if isinstance(op, Pad):
        return [instr("pad", **operands, value=float(op.value))]
    return [instr("pad_grad", **operands)]


def _upsample(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, (Upsample, UpsampleGrad))
    return [instr(op.OP, dst=buf(op.name), src=buf(op.inputs[0]), scales=list(op.scales))]


def _inorm(lw: Lowering, op: Op) -> list[Instr]:
    assert isinstance(op, InstanceNorm) and op.scale and op.bias  # the verifier checks
    return [instr("inorm", dst=buf(op.name), src=buf(op.inputs[0]), scale=param(op.scale), bias=param(op.bias),
                  eps=float(op.epsilon))]


def _inorm_grad(lw: Lowering, op: Op) -> list[Instr]:
    fwd = lw.forward_of(op)
    assert isinstance(op, InstanceNormGrad) and isinstance(fwd, InstanceNorm) and op.scale and fwd.bias
    return [instr("inorm_grad", dst=buf(op.name), x=buf(op.inputs[0]), dy=buf(op.inputs[1]), scale=param(op.scale),
                  eps=float(op.epsilon), dscale=buf(lw.declare_grad(op.scale, op)),
                  dbias=buf(lw.declare_grad(fwd.bias, op)))]


def mask_name(dropout: str) -> str:
    return f"{dropout}.mask"


def _dropout(lw: Lowering, op: Op) -> list[Instr]:
    """The identity (a free reshape) in inference unless the model asks for training mode; else the mask."""
    assert isinstance(op, Dropout)
    if op.phase == "fwd" and not op.training_mode:
        return [instr("reshape", dst=buf(op.name), src=buf(op.inputs[0]))]
    lw.declare("buffer", mask_name(op.name), op.shape, **{**lw.value_attrs(op, "act"), "role": Sym("mask")})
    lw.writes[op.name] = (op.name, mask_name(op.name))
    return [instr("dropout", dst=buf(op.name), src=buf(op.inputs[0]), mask=buf(mask_name(op.name)),
                  ratio=float(op.ratio), seed=op.seed)]


def _dropout_grad(lw: Lowering, op: Op) -> list[Instr]:
    fwd, dy = op.inputs  # the dropout names the mask: the mask moves to where the gradient is computed
    lw.reads[op.name] = (mask_name(fwd), dy)
    return [instr("dropout_grad", dst=buf(op.name), dy=buf(dy), mask=buf(mask_name(fwd)))]


DAG_LOWER: dict[str, Callable[[Lowering, Op], list[Instr]]] = {
    "add": _add, "concat": _concat, "slice": _slice, "pad": _pad, "pad_grad": _pad, "upsample": _upsample,
    "upsample_grad": _upsample, "instancenorm": _inorm, "instancenorm_grad": _inorm_grad, "dropout": _dropout,
    "dropout_grad": _dropout_grad,
}

"""Shape functions: the output shape every op must have, given its inputs and attributes.

The front ends use them to infer shapes and the verifier uses them to check the IR.
Formulas follow the ONNX operator spec (Conv, ConvTranspose).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lergan_cc.ir.ops import (
    Concat,
    Dense,
    Dropout,
    Op,
    Pad,
    PadGrad,
    Shape,
    Slice,
    TConv,
    Upsample,
    UpsampleGrad,
    WConv,
    _Conv,
)


class ShapeError(ValueError):
    """The op's inputs or attributes do not fit together."""


def conv_spatial(op: _Conv, spatial: Shape) -> Shape:
    """Output spatial size of an sconv/tconv on inputs of spatial size ``spatial``."""
    n = op.rank
    if len(spatial) != n:
        raise ShapeError(f"{n}-d kernel on an input with {len(spatial)} spatial axes")
    out = []
    for a in range(n):
        span = (op.kernel[a] - 1) * op.dilation[a] + 1
        pb, pe = op.pads[a], op.pads[a + n]
        if isinstance(op, TConv):
            o = op.stride[a] * (spatial[a] - 1) + op.output_padding[a] + span - pb - pe
        else:
            o = (spatial[a] + pb + pe - span) // op.stride[a] + 1
        if o < 1:
            raise ShapeError(f"axis {a}: output size {o} < 1 (input {spatial[a]}, kernel {op.kernel[a]})")
        out.append(o)
    return tuple(out)


def weight_shape(op: _Conv, in_channels: int) -> Shape:
    """ONNX weight layout: Conv (M, C/g, k...), ConvTranspose (C, M/g, k...)."""
    transposed = isinstance(op, TConv) or (isinstance(op, WConv) and op.transposed)
    if transposed:
        return (in_channels, op.out_channels // op.group, *op.kernel)
    return (op.out_channels, in_channels // op.group, *op.kernel)


def _check_conv_attrs(op: _Conv, in_channels: int) -> None:
    n = op.rank
    lens = {"stride": len(op.stride), "dilation": len(op.dilation), "pads": len(op.pads) / 2}
    if isinstance(op, (TConv, WConv)) and op.output_padding:
        lens["output_padding"] = len(op.output_padding)
    for k, v in lens.items():
        if v != n:
            raise ShapeError(f"{k} has {v:g} entries for a {n}-d kernel")
    if min(op.kernel + op.stride + op.dilation, default=1) < 1 or min(op.pads, default=0) < 0:
        raise ShapeError("kernel, stride and dilation must be >= 1 and pads >= 0")
    if op.group < 1 or in_channels % op.group or op.out_channels % op.group:
        raise ShapeError(f"group {op.group} does not divide channels {in_channels} -> {op.out_channels}")


def _conv(op: Op, ins: list[Shape]) -> Shape:
    assert isinstance(op, _Conv)
    x = ins[0]
    _check_conv_attrs(op, x[0])
    if isinstance(op, WConv):
        fwd_out = conv_spatial(_forward_of(op), x[1:])
        dy = ins[1]
        if dy != (op.out_channels, *fwd_out):
            raise ShapeError(f"gradient shape {list(dy)} does not match forward output {[op.out_channels, *fwd_out]}")
        return weight_shape(op, x[0])
    return (op.out_channels, *conv_spatial(op, x[1:]))


def _forward_of(op: WConv) -> _Conv:
    from lergan_cc.ir.ops import SConv

    common: dict[str, Any] = dict(name=op.name, layer=op.layer, phase=op.phase, inputs=op.inputs, shape=op.shape,
                  out_channels=op.out_channels, kernel=op.kernel, stride=op.stride, pads=op.pads,
                  dilation=op.dilation, group=op.group)
    return TConv(**common, output_padding=op.output_padding) if op.transposed else SConv(**common)


def _dense(op: Op, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 1:
        raise ShapeError(f"dense needs a flat input, got {list(ins[0])}")
    assert isinstance(op, Dense)
    return (op.units,)


def _wdense(op: Op, ins: list[Shape]) -> Shape:
    x, dy = ins
    if len(x) != 1 or len(dy) != 1:
        raise ShapeError(f"wdense needs flat inputs, got {list(x)} and {list(dy)}")
    return (x[0], dy[0])


def _same2(op: Op, ins: list[Shape]) -> Shape:
    if ins[0] != ins[1]:
        raise ShapeError(f"{op.OP} inputs differ in shape: {list(ins[0])} and {list(ins[1])}")
    return ins[0]


def _same(op: Op, ins: list[Shape]) -> Shape:
    return ins[0]


def _reshape(op: Op, ins: list[Shape]) -> Shape:
    if math.prod(op.shape) != math.prod(ins[0]):
        raise ShapeError(f"cannot reshape {list(ins[0])} to {list(op.shape)}")
    return op.shape


def _flatten(op: Op, ins: list[Shape]) -> Shape:
    return (math.prod(ins[0]),)


def _loss(op: Op, ins: list[Shape]) -> Shape:
    return ()


def _input(op: Op, ins: list[Shape]) -> Shape:
    return op.shape


# ---- DAG ops ------------------------------------------------------------------------------------------
PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _concat(op: Op, ins: list[Shape]) -> Shape:
    assert isinstance(op, Concat)
    axis = op.axis
    rank = len(ins[0])
    if not 0 <= axis < rank:
        raise ShapeError(f"axis {axis} is not a per-sample axis of {list(ins[0])}")
    for s in ins[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, ins[0], strict=True)) if i != axis):
            raise ShapeError(f"cannot concatenate {list(ins[0])} and {list(s)} along axis {axis}")
    return tuple(sum(s[axis] for s in ins) if i == axis else d for i, d in enumerate(ins[0]))


def _slice(op: Op, ins: list[Shape]) -> Shape:
    assert isinstance(op, Slice)
    axis, start, x = op.axis, op.start, ins[0]
    if len(op.shape) != len(x) or not 0 <= axis < len(x):
        raise ShapeError(f"axis {axis} of a slice {list(op.shape)} of {list(x)}")
    if any(a != b for i, (a, b) in enumerate(zip(op.shape, x, strict=True)) if i != axis) \
            or start < 0 or start + op.shape[axis] > x[axis]:
        raise ShapeError(f"{list(op.shape)} from {start} on axis {axis} is not a part of {list(x)}")
    return op.shape


def _pads(op: Op, x: Shape) -> tuple[int, ...]:
    assert isinstance(op, (Pad, PadGrad))
    pads, mode = op.pads, op.mode
    if len(pads) != 2 * len(x) or min(pads, default=0) < 0:
        raise ShapeError(f"pads {list(pads)} do not give a begin and an end >= 0 for each axis of {list(x)}")
    if mode not in PAD_MODES:
        raise ShapeError(f"pad mode '{mode}' is not one of {', '.join(PAD_MODES)}")
    if mode != "constant" and any(d == 0 for d in x):
        raise ShapeError(f"a {mode} pad of an empty axis")
    return pads


def _pad(op: Op, ins: list[Shape]) -> Shape:
    pads, n = _pads(op, ins[0]), len(ins[0])
    return tuple(d + pads[a] + pads[a + n] for a, d in enumerate(ins[0]))


def _pad_grad(op: Op, ins: list[Shape]) -> Shape:
    n = len(ins[0])
    assert isinstance(op, PadGrad)
    pads = op.pads
    out = tuple(d - pads[a] - pads[a + n] for a, d in enumerate(ins[0])) if len(pads) == 2 * n else ()
    if not out or min(out) < 1:
        raise ShapeError(f"pads {list(pads)} do not fit a padded {list(ins[0])}")
    _pads(op, out)
    return out


def _scales(op: Op, x: Shape) -> tuple[int, ...]:
    assert isinstance(op, (Upsample, UpsampleGrad))
    scales = op.scales
    if len(scales) != len(x) - 1 or min(scales, default=1) < 1:
        raise ShapeError(f"scales {list(scales)} do not give an integer >= 1 per spatial axis of {list(x)}")
    return scales


def _upsample(op: Op, ins: list[Shape]) -> Shape:
    scales = _scales(op, ins[0])
    return (ins[0][0], *(d * s for d, s in zip(ins[0][1:], scales, strict=True)))


def _upsample_grad(op: Op, ins: list[Shape]) -> Shape:
    scales = _scales(op, ins[0])
    if any(d % s for d, s in zip(ins[0][1:], scales, strict=True)):
        raise ShapeError(f"{list(ins[0])} is not upsampled by {list(scales)}")
    return (ins[0][0], *(d // s for d, s in zip(ins[0][1:], scales, strict=True)))


def _instancenorm(op: Op, ins: list[Shape]) -> Shape:
    if len(ins[0]) < 2:
        raise ShapeError(f"instance norm needs (channels, spatial...), got {list(ins[0])}")
    return _same2(op, ins) if len(ins) == 2 else ins[0]


def _dropout(op: Op, ins: list[Shape]) -> Shape:
    assert isinstance(op, Dropout)
    if not 0.0 <= op.ratio < 1.0:
        raise ShapeError(f"ratio {op.ratio} is not in [0, 1)")
    return ins[0]


SHAPE_FUNCTIONS: dict[str, Callable[[Op, list[Shape]], Shape]] = {
    "input": _input, "dense": _dense, "sconv": _conv, "tconv": _conv, "wconv": _conv,
    "relu": _same, "leaky_relu": _same, "tanh": _same, "sigmoid": _same, "batchnorm": _same,
    "reshape": _reshape, "flatten": _flatten, "loss": _loss, "loss_grad": _same,
    "wdense": _wdense, "act_grad": _same2, "batchnorm_grad": _same2,
    "add": _same2, "concat": _concat, "slice": _slice, "pad": _pad, "pad_grad": _pad_grad,
    "instancenorm": _instancenorm, "instancenorm_grad": _instancenorm, "upsample": _upsample,
    "upsample_grad": _upsample_grad, "dropout": _dropout, "dropout_grad": _same2,
}

ARITY: dict[str, tuple[int, int]] = {"input": (0, 0), "loss": (1, 2), "concat": (1, 1 << 16), **dict.fromkeys(
    ("wconv", "wdense", "act_grad", "batchnorm_grad", "add", "instancenorm_grad", "dropout_grad"), (2, 2))}


def infer_shape(op: Op, ins: list[Shape]) -> Shape:
    lo, hi = ARITY.get(op.OP, (1, 1))
    if not lo <= len(ins) <= hi:
        raise ShapeError(f"{op.OP} takes {lo}..{hi} inputs, got {len(ins)}")
    return SHAPE_FUNCTIONS[op.OP](op, ins)


def param_shapes(op: Op, ins: list[Shape]) -> dict[str, Shape]:
    """The shape each parameter reference of ``op`` must have."""
    if isinstance(op, _Conv) and not isinstance(op, WConv):
        return {"weight": weight_shape(op, ins[0][0]), "bias": (op.out_channels,)}
    if op.OP == "dense":
        assert isinstance(op, Dense)
        features, units = ins[0][0], op.units
        if op.transposed:
            return {"weight": (units, features)}
        return {"weight": (features, units), "bias": (units,)}
    if op.OP in ("batchnorm", "batchnorm_grad", "instancenorm", "instancenorm_grad"):
        return {k: (ins[0][0],) for k in ("scale", "bias", "mean", "var")}
    return {}

"""The one seam between the IR's conv ops and the numeric core (``lergan_cc.zerofree``).

The core knows nothing of the IR; this module turns an IR conv op into a ``ConvGeometry``
and answers, once per geometry (cached: geometries are frozen), what the passes and the
verifier ask of it — its zero-free interface, its zero-insertion figures and its plans.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Literal

from lergan_cc.ir.ops import Op, TConv, WConv, _Conv
from lergan_cc.zerofree import (
    ConvGeometry,
    NormalPlan,
    ReshapePlan,
    ZeroInsertion,
    analyze,
    deform,
    make_geometry,
    normal_reshape,
    zfdr,
)

if TYPE_CHECKING:
    from lergan_cc.ir.graph import Graph

InterfaceName = Literal["ZFDR_T", "ZFDR_WS", "none"]
INTERFACES: tuple[InterfaceName, ...] = ("ZFDR_T", "ZFDR_WS", "none")
Scheme = Literal["zfdr", "deform"]


def conv_geometry(g: Graph, op: _Conv) -> ConvGeometry:
    """The geometry of an sconv/tconv/wconv op (a wconv carries its forward conv's geometry)."""
    x = g.op(op.inputs[0]).shape
    if isinstance(op, WConv):
        kind: Literal["tconv", "sconv", "wconv", "wconv_t"] = "wconv_t" if op.transposed else "wconv"
    else:
        kind = "tconv" if isinstance(op, TConv) else "sconv"
    output_padding = op.output_padding if isinstance(op, (TConv, WConv)) and op.output_padding else None
    return make_geometry(kind, x[1:], op.kernel, stride=op.stride, pads=op.pads, output_padding=output_padding,
                         dilation=op.dilation, group=op.group, in_channels=x[0], out_channels=op.out_channels)


def zero_free_interface(op: Op) -> InterfaceName:
    """Which zero-free interface a conv op needs (paper §V "Interface"): strided T-CONV-like ops ZFDR_T,
    the weight gradient of a strided conv ZFDR_WS, anything with stride 1 none.

    ZFDR removes the zeros a stride inserts. A stride-1 T-CONV inserts none: it *is* a convolution
    padded by K−1−P, whose padding zeros are of the same nature as any padded S-CONV's, which no
    scheme reshapes (the paper counts MAGAN's 7k1s layer out: "only one T-CONV", §VI-C).
    """
    if not isinstance(op, _Conv) or max(op.stride) == 1:
        return "none"
    if isinstance(op, TConv) or (isinstance(op, WConv) and op.transposed):
        return "ZFDR_T"
    if isinstance(op, WConv):
        return "ZFDR_WS"
    return "none"


@cache
def figures(geometry: ConvGeometry) -> ZeroInsertion:
    """The zero-insertion analysis (Eqs 5-10) of one geometry."""
    return analyze(geometry)


@cache
def plan(scheme: Scheme, geometry: ConvGeometry) -> ReshapePlan:
    """The zfdr or deform plan of one geometry."""
    return zfdr(geometry) if scheme == "zfdr" else deform(geometry)


@cache
def normal_plan(geometry: ConvGeometry) -> NormalPlan:
    """The one-matrix (PRIME-like) mapping of one geometry."""
    return normal_reshape(geometry)

"""What the reshaping passes share: IR conv op -> ConvGeometry, and plans as IR attributes.

The numeric core (``lergan_cc.zerofree``) knows nothing of the IR; this is the one place
that translates between the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op, TConv, WConv, _Conv
from lergan_cc.passes.expand_training import interface
from lergan_cc.zerofree import ConvGeometry, Kind, NormalPlan, Rectangle, ReshapePlan, make_geometry, normal_reshape


def conv_geometry(g: Graph, op: _Conv) -> ConvGeometry:
    """The geometry of an sconv/tconv/wconv op (a wconv carries its forward conv's geometry)."""
    x = g.op(op.inputs[0]).shape
    if isinstance(op, WConv):
        kind = "wconv_t" if op.transposed else "wconv"
    else:
        kind = "tconv" if isinstance(op, TConv) else "sconv"
    return make_geometry(kind, x[1:], op.kernel, stride=op.stride, pads=op.pads,
                         output_padding=getattr(op, "output_padding", None) or None, dilation=op.dilation,
                         group=op.group, in_channels=x[0], out_channels=op.out_channels)


def needs_zero_free(op: _Conv) -> bool:
    """Ops whose interface is ZFDR_T or ZFDR_WS (computed for IR that did not run expand-training)."""
    return op.extra.get("interface", interface(op)) != "none"


def conv_ops(g: Graph) -> list[_Conv]:
    return [op for op in g.ops() if isinstance(op, _Conv)]


def annotate(g: Graph, op: Op, key: str, value: dict[str, Any]) -> None:
    g.replace(op.replace(extra={**op.extra, key: value}))


def plan_attr(plan: ReshapePlan) -> dict[str, Any]:
    """A zfdr/deform plan as an IR attribute: stats, then every kind with its matrix and coverage."""
    return {"scheme": plan.scheme, "stats": plan.stats().as_dict(),
            "kinds": [_kind_attr(plan, k) for k in plan.kinds],
            "empty": [[[p.start, p.step, p.count] for p in box] for box in plan.empty]}


def _kind_attr(plan: ReshapePlan, k: Kind) -> dict[str, Any]:
    return {"index": k.index, "class": k.cls, "reuse": k.reuse, "matrix": list(plan.matrix_shape(k)),
            "taps": [list(t) for t in k.taps], "padded": k.padded, "rects": [_rect_attr(r) for r in k.rectangles]}


def _rect_attr(r: Rectangle) -> dict[str, Any]:
    return {"ranges": [[p.start, p.step, p.count] for p in r.ranges],
            "maps": [[m.a, list(m.b)] for m in r.maps]}


def normal_attr(plan: NormalPlan) -> dict[str, Any]:
    """The one-matrix baseline as an IR attribute, with stats in the same fields as a plan's."""
    stored = plan.groups * plan.rows * plan.cols
    stats = {"kinds": 1, "corner": 0, "edge": 0, "inside": 0, "max_reuse": plan.rounds, "rounds": plan.rounds,
             "rounds_without": plan.rounds, "stored_matrix_values": stored, "stored_matrix_values_normal": stored,
             "macs": plan.macs}
    return {"scheme": "normal", "stats": stats, "matrix": [plan.groups, plan.rows, plan.cols]}


def dense_attr(g: Graph, op: Op) -> dict[str, Any]:
    """A dense layer (or its transposed / outer-product form) is one matrix used once per sample."""
    shape = g.op(op.inputs[0]).shape
    rows, cols = (shape[0], op.shape[0]) if op.OP == "dense" else (shape[0], g.op(op.inputs[1]).shape[0])
    stored = rows * cols
    stats = {"kinds": 1, "corner": 0, "edge": 0, "inside": 0, "max_reuse": 1, "rounds": 1, "rounds_without": 1,
             "stored_matrix_values": stored, "stored_matrix_values_normal": stored, "macs": math.prod((rows, cols))}
    return {"scheme": "normal", "stats": stats, "matrix": [1, rows, cols]}


def reshape_all(g: Graph, scheme: Callable[[ConvGeometry], ReshapePlan] | None) -> Graph:
    """Annotate every matrix op with ``reshape``: ``scheme``'s plan where a zero-free interface is
    needed (``None``: nowhere), the normal mapping elsewhere."""
    for op in list(g.ops()):
        if isinstance(op, _Conv):
            geometry = conv_geometry(g, op)
            use = scheme is not None and needs_zero_free(op)
            annotate(g, op, "reshape", plan_attr(scheme(geometry)) if use else normal_attr(normal_reshape(geometry)))
        elif op.OP in ("dense", "wdense"):
            annotate(g, op, "reshape", dense_attr(g, op))
    return g

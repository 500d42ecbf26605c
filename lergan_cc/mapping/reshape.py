"""Layers to matrices: every matrix op gets its ``reshape`` plan (what zfdr, deform and normal-reshape do)."""

from __future__ import annotations

from lergan_cc.ir.attrs import DenseMatrix, Interface, Reshape, Site
from lergan_cc.ir.conv import Scheme, conv_geometry, normal_plan, plan
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import _Conv


def needs_zero_free(op: _Conv) -> bool:
    """Ops whose interface is ZFDR_T or ZFDR_WS (derived for IR that did not run expand-training)."""
    return (op.get(Interface) or Interface.of(op)).name != "none"


def reshape_all(g: Graph, scheme: Scheme | None) -> Graph:
    """Attach ``reshape`` to every matrix op: ``scheme``'s plan where a zero-free interface is needed
    (``None``: nowhere), the normal mapping elsewhere; a dense layer's one matrix."""
    for op in list(g.ops()):
        if isinstance(op, _Conv):
            geometry = conv_geometry(g, op)
            use = scheme is not None and needs_zero_free(op)
            g.update(op, Reshape(plan(scheme, geometry) if use and scheme else normal_plan(geometry)))
        elif op.OP in ("dense", "wdense"):
            g.update(op, Reshape(DenseMatrix.of(Site(g, op))))
    return g

"""Invariants checked after every pass."""

from __future__ import annotations

from lergan_cc.errors import LerganError
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import PHASES
from lergan_cc.ir.shapes import ShapeError, infer_shape, param_shapes


class VerifyError(LerganError):
    pass


def verify(g: Graph) -> None:
    """Raise VerifyError on the first broken invariant: shapes, phases, parameter references."""
    for op in g.ops():
        where = f"op '{op.name}' ({op.OP}, layer {op.layer})"
        if op.phase not in PHASES:
            raise VerifyError(f"{where}: unknown phase '{op.phase}'")
        ins = g.input_shapes(op)
        try:
            expected = infer_shape(op, ins)
        except ShapeError as e:
            raise VerifyError(f"{where}: {e}") from None
        if tuple(expected) != tuple(op.shape):
            raise VerifyError(f"{where}: shape {list(op.shape)} but its inputs give {list(expected)}")
        for field, shape in param_shapes(op, ins).items():
            name = getattr(op, field, None)
            if name is None:
                continue
            if name not in g.params:
                raise VerifyError(f"{where}: {field} '{name}' is not a declared parameter")
            if g.params[name].shape != shape:
                have = list(g.params[name].shape)
                raise VerifyError(f"{where}: {field} '{name}' has shape {have}, needs {list(shape)}")
    for out in g.outputs:
        if out not in g:
            raise VerifyError(f"output '{out}' is not defined")

"""Invariants checked after every pass: shapes, phases, parameters, and every attached attribute's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lergan_cc.errors import LerganError
from lergan_cc.ir.attribute import AttrError, Site
from lergan_cc.ir.attrs import SourceModel
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import PHASES, BatchNorm, InstanceNorm, Op
from lergan_cc.ir.shapes import ShapeError, infer_shape, param_shapes

if TYPE_CHECKING:
    from lergan_cc.targets.hw import Hardware

BATCHNORM_PARAMS = ("scale", "bias", "mean", "var")


class VerifyError(LerganError):
    pass


def verify(g: Graph, hw: Hardware | None = None) -> None:
    """Raise VerifyError on the first broken invariant (``hw``: also check placements against the machine)."""
    for op in g.ops():
        where = f"op '{op.name}' ({op.OP}, layer {op.layer})"
        if op.phase not in PHASES:
            raise VerifyError(f"{where}: unknown phase '{op.phase}'")
        _shapes(g, op, where)
        for attr in op.attached.values():
            try:
                attr.verify(Site(g, op, hw))
            except (AttrError, ValueError) as e:
                raise VerifyError(f"{where}: {e}") from None
    for out in g.outputs:
        if out not in g:
            raise VerifyError(f"output '{out}' is not defined")
    for attr in g.attached.values():
        try:
            attr.verify(Site(g, None, hw))
        except (AttrError, ValueError) as e:
            raise VerifyError(f"model '{g.model}': {e}") from None


def _shapes(g: Graph, op: Op, where: str) -> None:
    ins = g.input_shapes(op)
    try:
        expected = infer_shape(op, ins)
    except ShapeError as e:
        raise VerifyError(f"{where}: {e}") from None
    if tuple(expected) != tuple(op.shape):
        raise VerifyError(f"{where}: shape {list(op.shape)} but its inputs give {list(expected)}")
    if isinstance(op, BatchNorm):
        missing = [f for f in BATCHNORM_PARAMS if getattr(op, f) is None]
        if missing:
            raise VerifyError(f"{where}: batch norm needs its {missing[0]} parameter ({', '.join(BATCHNORM_PARAMS)})")
    if isinstance(op, InstanceNorm) and (op.scale is None or op.bias is None):
        raise VerifyError(f"{where}: instance norm needs its scale and bias parameters")
    for field, shape in param_shapes(op, ins).items():
        name = getattr(op, field, None)
        if name is None:
            continue
        if name not in g.params:
            raise VerifyError(f"{where}: {field} '{name}' is not a declared parameter")
        if g.params[name].shape != shape and not _per_sample_bias(g, op, field, g.params[name].shape):
            have = list(g.params[name].shape)
            raise VerifyError(f"{where}: {field} '{name}' has shape {have}, needs {list(shape)}")


def _per_sample_bias(g: Graph, op: Op, field: str, shape: tuple[int, ...]) -> bool:
    """A dense layer's bias with one row per sample (ONNX Gemm with a (batch, units) C): the model's static
    batch of rows."""
    source = g.get(SourceModel)
    return op.OP == "dense" and field == "bias" and source is not None and source.batch is not None \
        and shape == (source.batch, *op.shape)

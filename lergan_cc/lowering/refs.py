"""How the lowering names what an instruction refers to: buffers, params, gradient accumulators."""

from __future__ import annotations

from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Ref, Value


def buf(name: str) -> Ref:
    return Ref("buf", name)


def param(name: str) -> Ref:
    return Ref("param", name)


def grad_name(p: str) -> str:
    return f"grad/{p}"


def instr(op: str, **operands: Value) -> Instr:
    """An instruction; a trailing underscore lets an operand be named like a Python keyword (``from_``)."""
    return Instr(op, {k.rstrip("_"): v for k, v in operands.items()})

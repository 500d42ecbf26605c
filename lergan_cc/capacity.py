"""Does a model fit the machine of its hardware description at all? Checked right after it is read.

Each value a model computes (one op's output for the whole batch) and each weight must fit in the
machine's memory, and no spatial axis may be longer than :data:`MAX_AXIS` (the passes enumerate
positions per axis). A model past that is a capacity error naming the op and the sizes, before any
pass allocates anything for it. Whether it fits the crossbars is the placement passes' question.
"""

from __future__ import annotations

import math

from lergan_cc.errors import LerganError
from lergan_cc.ir.graph import Graph
from lergan_cc.limits import fmt_bytes
from lergan_cc.targets.hw import MIB, Hardware

MAX_AXIS = 1 << 20  # positions along one spatial axis (a 1-D signal of a million samples)


def check_fits(g: Graph, hw: Hardware, batch: int, where: str) -> None:
    memory = hw.memory.total_mib * MIB
    per_value = hw.bytes_per_value
    for op in g.ops():
        spatial = op.shape[1:]
        if any(n > MAX_AXIS for n in spatial):
            raise LerganError(f"{where}: {_what(op.layer, op.name)} does not fit: its {_fmt(op.shape)} output has an "
                              f"axis longer than {MAX_AXIS}")
        need = math.prod(op.shape) * batch * per_value
        if need > memory:
            raise LerganError(f"{where}: {_what(op.layer, op.name)} does not fit: its {_fmt(op.shape)} output for a "
                              f"batch of {batch} needs {fmt_bytes(need)}, the machine has {fmt_bytes(memory)} "
                              "(memory.total_mib); a smaller --batch or model would")
    for p in g.params.values():
        need = math.prod(p.shape) * per_value
        if need > memory:
            raise LerganError(f"{where}: weight '{p.name}' {_fmt(p.shape)} does not fit: it needs {fmt_bytes(need)}, "
                              f"the machine has {fmt_bytes(memory)} (memory.total_mib)")


def _what(layer: str, name: str) -> str:
    if not layer:
        return f"op {name}"
    return f"layer {layer}" if layer == name else f"layer {layer} ({name})"


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"

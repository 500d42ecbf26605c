"""``--emit analysis``: the zero-insertion analysis of every conv layer and phase as JSON (DESIGN §8)."""

from __future__ import annotations

import json
from typing import Any

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import Interface, ZeroInsertionFigures, ZfdrSummary
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import TConv, WConv, _Conv

COUNTS = ("zero_inserted_inputs", "useful_inputs", "macs_zero_inserted", "macs_useful")


def analysis(g: Graph) -> dict[str, Any]:
    found = [_layer(g, op) for op in g.ops() if isinstance(op, _Conv)]
    layers = [layer for layer in found if layer is not None]
    if len(layers) != len(found):
        raise LerganError("--emit analysis needs the pass 'zero-insertion' (do not stop before it)")
    phases = sorted({row["phase"] for row in layers}, key=[row["phase"] for row in layers].index)
    totals = {**_sum(layers), "phases": {p: _sum([r for r in layers if r["phase"] == p]) for p in phases}}
    return {"model": g.model, "layers": layers, "totals": totals}


def _layer(g: Graph, op: _Conv) -> dict[str, Any] | None:
    counts = op.get(ZeroInsertionFigures)
    if counts is None:
        return None
    interface = op.get(Interface)
    output_padding = op.output_padding if isinstance(op, (TConv, WConv)) else ()
    return {"layer": op.layer, "phase": op.phase, "op": op.OP, "name": op.name,
            "interface": interface.name if interface else None,
            "input_shape": list(g.op(op.inputs[0]).shape), "output_shape": list(op.shape),
            "kernel": list(op.kernel), "stride": list(op.stride), "pads": list(op.pads),
            "output_padding": list(output_padding), **counts.counts(), "efficiency": counts.efficiency,
            "zfdr": op.need(ZfdrSummary).to_value()}


def _sum(rows: list[dict[str, Any]]) -> dict[str, Any]:
    sums = {k: sum(r[k] for r in rows) for k in COUNTS}
    sums["efficiency"] = sums["macs_useful"] / sums["macs_zero_inserted"] if sums["macs_zero_inserted"] else 1.0
    sums["input_ratio"] = sums["zero_inserted_inputs"] / sums["useful_inputs"] if sums["useful_inputs"] else 1.0
    return sums


def dumps(g: Graph) -> str:
    return json.dumps(analysis(g), indent=1) + "\n"

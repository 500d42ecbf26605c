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


COLUMNS = ("layer", "phase", "op", "input -> output", "useful MACs", "total MACs", "eff.", "kinds (C+E+I)",
           "rounds", "without")


def table(data: dict[str, Any]) -> str:
    """The analysis as a table for a person (``--emit analysis`` on a terminal): per layer and phase the
    useful and zero-inserted MACs, the efficiency, the zero-free kinds and the MMV rounds with and without
    them; per phase and overall the totals."""
    rows = [_row(r) for r in data["layers"]]
    totals = data["totals"]
    for phase, t in totals["phases"].items():
        rows.append(("", phase, "", "", _n(t["macs_useful"]), _n(t["macs_zero_inserted"]), _pct(t["efficiency"]),
                     "", "", ""))
    rows.append(("total", "", "", "", _n(totals["macs_useful"]), _n(totals["macs_zero_inserted"]),
                 _pct(totals["efficiency"]), "", "", ""))
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    right = {4, 5, 6, 8, 9}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                              strict=True))).rstrip()
    body = [line(COLUMNS), line(tuple("-" * w for w in widths))]
    body += [line(r) for r in rows[:len(data["layers"])]]
    body += [line(tuple("-" * w for w in widths))] + [line(r) for r in rows[len(data["layers"]):]]
    ratio = totals["input_ratio"]
    return (f"{data['model']}: zero-insertion analysis ({len(data['layers'])} conv layer-phases; zero-inserted / "
            f"useful input values {ratio:.2f})\n" + "\n".join(body) + "\n")


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    z = r["zfdr"]
    shapes = f"{'x'.join(map(str, r['input_shape']))} -> {'x'.join(map(str, r['output_shape']))}"
    kinds = f"{z['kinds']} ({z['corner']}+{z['edge']}+{z['inside']})"
    return (r["layer"], r["phase"], r["op"], shapes, _n(r["macs_useful"]), _n(r["macs_zero_inserted"]),
            _pct(r["efficiency"]), kinds, str(z["rounds"]), str(z["rounds_without"]))


def _n(v: int) -> str:
    return f"{v:,}"


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"

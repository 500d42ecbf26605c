"""The IR as JSON (``--emit ir-json``, DESIGN §8)."""

from __future__ import annotations

import json
from typing import Any

from lergan_cc.ir.graph import Graph


def graph_json(g: Graph) -> dict[str, Any]:
    nodes = [
        {
            "name": op.name,
            "op": op.OP,
            "layer": op.layer,
            "phase": op.phase,
            "input_shapes": [list(s) for s in g.input_shapes(op)],
            "output_shapes": [list(op.shape)],
            "attrs": _plain({**{k: v for k, v in op.attrs().items() if v is not None},
                             **{k: a.to_value() for k, a in op.attached.items()}}),
        }
        for op in g.ops()
    ]
    meta = {k: a.to_value() for k, a in g.attached.items()}
    return {"model": g.model, "kind": g.kind, "meta": meta, "nodes": nodes, "outputs": g.outputs,
            "params": {p.name: list(p.shape) for p in sorted(g.params.values(), key=lambda p: p.name)}}


def dumps(g: Graph) -> str:
    return json.dumps(graph_json(g), indent=1, sort_keys=True) + "\n"


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v.item() if hasattr(v, "item") else v

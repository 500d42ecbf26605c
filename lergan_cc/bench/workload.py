"""The work of one training iteration, op by op, as a device-independent table (for the GPU/FPGA rooflines).

Each row is one op of the expanded training graph: its multiply-accumulates per sample, the
activation values it reads and writes per sample, the parameter values it reads or writes once per
batch, and how often the iteration runs it. The iteration is the one the FSM program runs
(``docs/ISA.md``): G forward twice (D step and G step), D forward three times (real, fake, fake
again with the updated D), D's backward for the real and the fake batch and once more in the G
step, G's backward once. D's input gradient (the error handed to G) is needed in the G step only.

MACs are the *useful* ones of ``zero-insertion`` (no inserted or padding zeros): the machines these
rows feed are ideal, so they get every zero skipped for free.
"""

from __future__ import annotations

from math import prod
from typing import Any

from lergan_cc.ir.attrs import ZeroInsertionFigures
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import CONV_OPS, Op

RUNS = {"G_fwd": 2, "D_fwd": 3, "D_err": 3, "D_wgrad": 2, "G_err": 1, "G_wgrad": 1, "fwd": 1}
D_PHASES = ("D_fwd", "D_err", "D_wgrad")
NO_TRAFFIC = ("input", "reshape", "flatten", "loss", "loss_grad")  # views, and the host's few values
WEIGHT_GRADIENTS = ("wconv", "wdense")
UNTRAINED = (".mean", ".var")  # batch-norm running statistics: not updated by SGD


def table(g: Graph) -> list[dict[str, Any]]:
    """A row per op that moves or computes values, plus one SGD update row per network."""
    rows = [_row(g, op) for op in g.ops() if op.OP not in NO_TRAFFIC]
    return rows + _updates(g)


def _row(g: Graph, op: Op) -> dict[str, Any]:
    reads = sum(prod(s) for s in g.input_shapes(op))
    grads = op.OP in WEIGHT_GRADIENTS
    return {"name": op.name, "layer": op.layer, "phase": op.phase, "op": op.OP, "macs": macs(g, op),
            "act_values": reads + (0 if grads else prod(op.shape)),
            "param_values": (prod(op.shape) if grads else 0) + _params_read(g, op), "runs": runs(g, op)}


def macs(g: Graph, op: Op) -> int:
    """Useful multiply-accumulates of ``op`` for one sample (0 for element-wise ops)."""
    if op.OP in CONV_OPS:
        return op.need(ZeroInsertionFigures).macs_useful
    if op.OP == "dense":
        return prod(g.input_shapes(op)[0]) * prod(op.shape)
    if op.OP == "wdense":
        return prod(op.shape)
    return 0


def _params_read(g: Graph, op: Op) -> int:
    """Parameter values an op reads: its weight and bias, or batch norm's scale and bias."""
    if op.OP in WEIGHT_GRADIENTS:
        return 0
    names = {getattr(op, f, None) for f in ("weight", "bias", "scale")}
    return sum(prod(g.params[n].shape) for n in names if n in g.params)


def runs(g: Graph, op: Op) -> int:
    """How often one iteration runs ``op``; D's input gradient only in the G step."""
    if op.phase == "D_err" and not any(c.phase in D_PHASES for c in g.consumers(op.name)):
        return 1
    return RUNS[op.phase]


def _updates(g: Graph) -> list[dict[str, Any]]:
    """SGD per network: read W and ∇W, write W, for every trained parameter."""
    rows = []
    for net in sorted({n.split("/", 1)[0] for n in g.params if "/" in n}):
        trained = [p for n, p in g.params.items() if n.startswith(f"{net}/") and not n.endswith(UNTRAINED)]
        values = sum(prod(p.shape) for p in trained)
        rows.append({"name": f"{net}.sgd", "layer": net, "phase": "update", "op": "sgd", "macs": 0, "act_values": 0,
                     "param_values": 3 * values, "runs": 1})
    return rows

"""The pass ``emit-fsm``: the placed IR -> the memory controller's FSM program and its tensors.

Lowering (``lergan_cc.lowering``) builds a typed program; the jinja2 templates in
``targets/templates`` render it (StrictUndefined). The program, its text and the sidecar tensors
(drawn when first read) go to the compile context (``ctx.emitted``); the IR itself is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from lergan_cc.fsm.emitted import Emitted
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.sidecar import LazyTensors
from lergan_cc.fsm.source import MODEL_KEY
from lergan_cc.fsm.tables import fold_states
from lergan_cc.fsm.values import Sym, Value
from lergan_cc.ir.attrs import Placement, PlacementSummary, ReplicaDegree, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.lowering.lower import Lowering, hw_header
from lergan_cc.lowering.render import render
from lergan_cc.lowering.states import build_states
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


@dataclass(frozen=True)
class EmitFsm(Pass):
    name: ClassVar[str] = "emit-fsm"
    requires = (Reshape, Replicas, Placement, PlacementSummary)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        lw = Lowering(g, ctx)
        program = lower_program(lw, ctx)
        shapes = {n: p.shape for n, p in g.params.items()}
        sources = {MODEL_KEY + net: np.frombuffer(model, np.uint8) for net, model in sorted(g.sources.items())}
        ctx.emitted = Emitted(program, render(program), LazyTensors(shapes, lw.roles, g.tensors, sources))
        return g


def lower_program(lw: Lowering, ctx: CompileContext) -> Program:
    g, options = lw.g, ctx.options
    model = g.get(ReplicaDegree)
    replica = options.replica_degree(model.degree if model else None)
    attrs: dict[str, Value] = {"batch": options.the_batch, "batch_from": Sym(ctx.batch_from),
                               "zero_free": options.zero_free, "target": options.target,
                               "replica": Sym(replica)}
    states = build_states(lw)
    decls = [lw.decls[k] for k in sorted(lw.decls, key=lambda k: ("param", "buffer", "matrix").index(k[0]))]
    tables = fold_states(states, lw.runs)
    return Program(g.model, g.kind, attrs, hw_header(lw.hw), decls, states, tables=tables)

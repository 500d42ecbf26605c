"""The pass ``emit-fsm``: the placed IR -> the memory controller's FSM program and its tensors.

Lowering (``lergan_cc.fsm.emit_lower`` / ``emit_states``) builds a typed program; the jinja2
templates in ``targets/templates`` render it (StrictUndefined). The text and the sidecar
tensors are attached to the graph for the driver to write (``emitted(g)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lergan_cc.fsm.emit_lower import Lowering, hw_header
from lergan_cc.fsm.emit_render import render
from lergan_cc.fsm.emit_states import build_states
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.sidecar import initial_tensors
from lergan_cc.fsm.values import Sym
from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options

_ATTR = "_emitted_fsm"


@dataclass(frozen=True)
class Emitted:
    text: str
    tensors: dict[str, np.ndarray]
    program: Program | None = None  # the typed program the text spells (what the assembler reads back)


class EmitFsm:
    name: ClassVar[str] = "emit-fsm"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        lw = Lowering(g, options)
        program = lower_program(lw, options)
        shapes = {n: p.shape for n, p in g.params.items()}
        setattr(g, _ATTR, Emitted(render(program), initial_tensors(shapes, lw.roles, g.tensors), program))
        return g


def lower_program(lw: Lowering, options: Options) -> Program:
    g = lw.g
    attrs = {"batch": options.batch, "zero_free": options.zero_free, "target": options.target,
             "replica": Sym(options.replica_degree(g.meta))}
    states = build_states(lw)
    decls = [lw.decls[k] for k in sorted(lw.decls, key=lambda k: ("param", "buffer", "matrix").index(k[0]))]
    return Program(g.model, g.kind, attrs, hw_header(lw.hw), decls, states)


def emitted(g: Graph) -> Emitted:
    """The program the pass attached to ``g``."""
    return getattr(g, _ATTR)

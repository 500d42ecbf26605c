"""The typed FSM program: header, declarations, states with bank modes, switches, body, transition.

What the assembler builds from text, what the emitter builds from the IR, what the
printer spells and what the simulator runs. Every record keeps its source position
(0 when built in memory) so that later checks can point at the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lergan_cc.fsm.values import Value

FSM_VERSION = 1


@dataclass
class Decl:
    """``param @name``, ``buffer %name`` or ``matrix $name``: a shape and attributes.

    Buffer and matrix shapes are per sample: every dataflow instruction runs over the
    whole batch (the implicit outermost loop ``b < batch``).
    """

    kind: str  # param | buffer | matrix
    name: str
    shape: tuple[int, ...]
    attrs: dict[str, Value] = field(default_factory=dict)
    line: int = 0
    column: int = 0


@dataclass
class Instr:
    op: str
    operands: dict[str, Value]
    line: int = 0
    column: int = 0


@dataclass
class Transition:
    """``goto S``, ``iterate S`` (end of a training iteration: go to S if another is wanted, else halt), ``halt``."""

    kind: str  # goto | iterate | halt
    target: str | None = None
    line: int = 0
    column: int = 0


@dataclass
class State:
    name: str
    modes: dict[str, Value] = field(default_factory=dict)
    switches: dict[str, Value] = field(default_factory=dict)
    body: list[Instr] = field(default_factory=list)
    transition: Transition = field(default_factory=lambda: Transition("halt"))
    line: int = 0
    column: int = 0


@dataclass
class Program:
    """A whole program; ``states[0]`` is the entry state."""

    model: str
    kind: str  # net | gan
    attrs: dict[str, Value] = field(default_factory=dict)
    hw: dict[str, Value] = field(default_factory=dict)
    decls: list[Decl] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    version: int = FSM_VERSION

    def table(self, kind: str) -> dict[str, Decl]:
        return {d.name: d for d in self.decls if d.kind == kind}

    @property
    def batch(self) -> int:
        return int(self.attrs["batch"])  # type: ignore[arg-type]

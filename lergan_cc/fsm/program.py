"""The typed FSM program: header, declarations, states with bank modes, switches, body, transition.

What the assembler builds from text, what the emitter builds from the IR, what the
printer spells and what the simulator runs. Every record keeps its source position
(0 when built in memory) so that later checks can point at the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lergan_cc.errors import LerganError
from lergan_cc.fsm.values import Value
from lergan_cc.targets.geometry import Topology, build_topology
from lergan_cc.targets.hw import Hardware, hardware_from_flat

FSM_VERSION = 3  # the version the compiler writes: 3 added instruction tables (``table &name op { rows }``)
READ_VERSIONS = (2, 3)  # the versions the assembler reads (a version-2 text has no tables, else it is the same)


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
class Table:
    """``table &name op { row... }``: operand rows for instructions of opcode ``op``. An instruction line
    ``op k=v... rows=&name`` is one instruction per row, in row order: the line's operands and the row's.
    ``places``: each row's (line, column) (empty when built in memory)."""

    name: str
    op: str
    rows: list[dict[str, Value]]
    line: int = 0
    column: int = 0
    places: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Fold:
    """A run of a state's body spelled as one table line: ``body[start:start + count]`` is the table's
    ``count`` rows, each with ``operands`` (the line's own operands) added. ``line``, ``column``: the line's."""

    start: int
    count: int
    table: str
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
    folds: list[Fold] = field(default_factory=list)  # runs of ``body`` spelled as table lines


@dataclass
class Program:
    """A whole program; ``states[0]`` is the entry state.

    Every state's ``body`` is the whole instruction list (table lines expanded, one ``Instr`` per row): what
    the simulators, checks and reports read. ``tables`` and the states' ``folds`` only say how the text
    spells it (``lergan_cc.fsm.tables``)."""

    model: str
    kind: str  # net | gan
    attrs: dict[str, Value] = field(default_factory=dict)
    hw: dict[str, Value] = field(default_factory=dict)
    decls: list[Decl] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    version: int = FSM_VERSION
    tables: list[Table] = field(default_factory=list)  # instruction tables (version 3), in text order

    def table(self, kind: str) -> dict[str, Decl]:
        return {d.name: d for d in self.decls if d.kind == kind}

    @property
    def batch(self) -> int:
        batch = self.attrs["batch"]
        assert isinstance(batch, int), "the assembler checks batch=N"
        return batch

    def hardware(self, where: str = "<fsm>") -> Hardware:
        """The machine the program was compiled for, rebuilt from its ``hw`` line (DESIGN §7: the simulator
        reads the ``.fsm`` and nothing else, so a ``--hw`` override at compile time moves times and energies)."""
        return _hardware(tuple(sorted((k, _hashable(v)) for k, v in self.hw.items())), f"{where}: hw header")

    def topology(self, where: str = "<fsm>") -> Topology:
        target = str(self.attrs.get("target", "lergan-3d"))
        try:
            return _topology(self.hardware(where), target)
        except ValueError as e:
            raise LerganError(f"{where}: {e}") from None


def _hashable(v: Any) -> Any:
    return tuple(str(x) for x in v) if isinstance(v, list) else v


@lru_cache(maxsize=8)
def _hardware(items: tuple[tuple[str, Any], ...], where: str) -> Hardware:
    return hardware_from_flat(dict(items), where)


@lru_cache(maxsize=8)
def _topology(hw: Hardware, target: str) -> Topology:
    return build_topology(hw, target)

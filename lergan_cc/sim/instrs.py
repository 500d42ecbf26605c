"""Instructions -> closures over a :class:`~lergan_cc.sim.machine.Machine`.

Each instruction is compiled once (operands resolved, index grids built, ranges checked
against the declarations) into a closure; running a state is calling its closures in order.
A failure names the instruction's file:line:column. The closures live in
:mod:`lergan_cc.sim.xbar` (crossbar programming and MMVs) and :mod:`lergan_cc.sim.periph`
(buffers, peripherals, host).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lergan_cc.errors import SourceError
from lergan_cc.fsm.program import Fold, Instr
from lergan_cc.sim import dag, periph, xbar
from lergan_cc.sim.costs import PART_WRITES, WRITES, refs
from lergan_cc.sim.machine import Machine, Step

COMPILERS: dict[str, Callable[[dict[str, Any], Machine], Step]] = {"write": xbar.write, "mmv": xbar.mmv,
                                                                   **periph.COMPILERS, **dag.COMPILERS}


def compile_instr(ins: Instr, m: Machine, fold: Fold | None = None) -> Step:
    """The closure that executes ``ins``; static errors (ranges, shapes) are raised here. ``fold``: the
    table line ``ins`` is a row of (its errors point at the row and name the line, as the checker's do)."""
    used = f" (table &{fold.table}, used at line {fold.line})" if fold is not None else ""
    if ins.op not in COMPILERS:
        raise SourceError(m.path, ins.line, ins.column, f"{ins.op}: the functional simulator does not run this "
                          f"instruction yet (--timing-only does){used}")
    try:
        step = COMPILERS[ins.op](ins.operands, m)
    except (ValueError, IndexError, KeyError) as e:
        raise SourceError(m.path, ins.line, ins.column, f"{ins.op}: {e}{used}") from None
    changed = [r.name for r in refs(ins, WRITES) + refs(ins, PART_WRITES) if r.kind == "buf"]

    def run(machine: Machine) -> None:
        try:
            step(machine)
        except (ValueError, IndexError, FloatingPointError) as e:
            raise SourceError(machine.path, ins.line, ins.column, f"{ins.op}: {e}{used}") from None
        for name in changed:
            machine.version[name] = machine.version.get(name, 0) + 1
    return run

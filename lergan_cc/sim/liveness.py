"""Which buffers and matrices a functional run may forget, and where: after their last read before
the program overwrites them whole.

The state walk is fixed by the program (``iterate`` loops back the same way every iteration), so
one analysis over a few iterations of it holds for every iteration. An access is a *read* when the
instruction needs the old contents (it reads the operand, or writes only part of it: an MMV's
destination, a gradient accumulator) and a *write* when it replaces all of it. A name may be
dropped after an instruction when, on every visit of that instruction, the next access to the name
is a write. Gradient buffers (the run's results) and the names in ``keep`` are never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from lergan_cc.fsm.program import Instr, Program, State
from lergan_cc.fsm.values import Ref
from lergan_cc.sim.costs import PART_WRITES, READS, WRITES, refs

WALK_ITERATIONS = 3  # decide from the first two; the third supplies every "next access"


def accesses(ins: Instr) -> dict[Ref, bool]:
    """Named operands -> True when ``ins`` reads (or partly writes) them, False when it only overwrites them."""
    out: dict[Ref, bool] = {}
    for r in refs(ins, WRITES):
        out[r] = False
    for r in refs(ins, READS) + refs(ins, PART_WRITES):
        out[r] = True
    return {r: v for r, v in out.items() if r.kind in ("buf", "mat")}


def dead_after(program: Program, states: Iterator[State], keep: set[str]) -> dict[str, list[list[Ref]]]:
    """State -> per instruction, the names to forget after it. ``states``: the walk, several iterations long."""
    grads = {d.name for d in program.decls if d.kind == "buffer" and d.attrs.get("role") == "grad"}
    visits = list(states)
    last: dict[Ref, tuple[int, int, bool]] = {}  # name -> (visit, instruction) of its latest access
    verdict: dict[tuple[str, int, Ref], bool] = {}
    decided = _decidable(visits)
    for v, state in enumerate(visits):
        for i, ins in enumerate(state.body):
            for r, reads in accesses(ins).items():
                if r in last:
                    pv, pi, _ = last[r]
                    if pv < decided:
                        key = (visits[pv].name, pi, r)
                        verdict[key] = verdict.get(key, True) and not reads
                last[r] = (v, i, reads)
    for r, (pv, pi, _) in last.items():  # no access after it within the walk: undecided, so kept
        if pv < decided:
            verdict[(visits[pv].name, pi, r)] = False
    out: dict[str, list[list[Ref]]] = {s.name: [[] for _ in s.body] for s in program.states}
    for (name, i, r), dead in verdict.items():
        if dead and not (r.kind == "buf" and (r.name in grads or r.name in keep)):
            out[name][i].append(r)
    return out


def _decidable(visits: list[State]) -> int:
    """How many leading visits have all their next accesses inside the walk: all but the last iteration."""
    ends = [v for v, s in enumerate(visits) if s.transition.kind == "iterate"]
    if len(ends) < 2:
        return 0  # a program that halts (or never iterates): nothing is dropped
    return ends[-2] + 1

"""What a run of a program will cost, worked out before anything is allocated: refused past the limits.

From the program text alone: the hardware it names is valid; every buffer and param fits that
machine's memory; the run's work — instructions the timing model costs, multiply-accumulates the
functional simulator computes — is within :data:`lergan_cc.limits.MAX_STEPS` and
:data:`~lergan_cc.limits.MAX_MACS`; and the functional simulator's arrays (buffers, params, matrices,
index grids, the largest gathered operand) fit the host's memory budget. Each limit is one line
naming what and how much, and which option would help.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lergan_cc.errors import LerganError
from lergan_cc.fsm.program import Instr, Program, State
from lergan_cc.fsm.values import Prog, Ref, Win, seq_values
from lergan_cc.limits import MAX_MACS, MAX_STEPS, check_host_bytes, fmt_bytes
from lergan_cc.targets.hw import MIB

FLOAT = 4  # the functional simulator's float32
INDEX = 8  # its int64 index grids


@dataclass(frozen=True)
class Run:
    """States visited before the first ``iterate`` (or ``halt``) and in each further iteration."""

    prefix: list[State]
    loop: list[State]

    def states(self, iterations: int) -> list[tuple[State, int]]:
        """Each state with how often a run of ``iterations`` visits it."""
        counts: dict[str, int] = {}
        by_name: dict[str, State] = {}
        for s in self.prefix:
            counts[s.name] = counts.get(s.name, 0) + 1
            by_name[s.name] = s
        for s in self.loop:
            counts[s.name] = counts.get(s.name, 0) + iterations - 1
            by_name[s.name] = s
        return [(by_name[n], c) for n, c in counts.items() if c]


def run_of(program: Program) -> Run:
    """The state walk (the FSM is checked to reach halt or iterate from every state)."""
    by_name = {s.name: s for s in program.states}
    prefix = _until_end(program.states[0], by_name)
    last = prefix[-1].transition
    loop = _until_end(by_name[str(last.target)], by_name) if last.kind == "iterate" else []
    return Run(prefix, loop)


def _until_end(state: State, by_name: dict[str, State]) -> list[State]:
    out = [state]
    while state.transition.kind == "goto" and len(out) <= len(by_name):
        state = by_name[str(state.transition.target)]
        out.append(state)
    return out


def check_run(program: Program, path: str, iterations: int, functional: bool) -> None:
    """Refuse a run that cannot fit the machine, the work limits or (functional) the host's memory."""
    hw = program.hardware(path)
    _check_capacity(program, path, hw.memory.total_mib * MIB, hw.bytes_per_value)
    run = run_of(program)
    visits = run.states(iterations)
    steps = sum(len(s.body) * n for s, n in visits)
    if steps > MAX_STEPS:
        raise LerganError(f"--iterations {iterations}: {path} would run {steps:.3g} instructions, more than the "
                          f"{MAX_STEPS:.0e} a simulation may; at most {_most(run, MAX_STEPS, _steps)} iterations")
    if not functional:
        return
    macs = sum(_macs(program, s) * n for s, n in visits)
    if macs > MAX_MACS:
        most = _most(run, MAX_MACS, lambda s: _macs(program, s))
        raise LerganError(f"--iterations {iterations}: {path} would compute {macs:.3g} multiply-accumulates, more "
                          f"than the {MAX_MACS:.0e} a functional simulation may (use --timing-only, fewer "
                          f"--iterations or a smaller batch; at most {most} iterations)")
    check_host_bytes(host_bytes(program), f"{path}: simulating it")


def _steps(s: State) -> int:
    return len(s.body)


def _most(run: Run, limit: int, cost: Callable[[State], int]) -> int:
    per = sum(cost(s) for s in run.loop) or 1
    first = sum(cost(s) for s in run.prefix)
    return max(0, (limit - first) // per + 1)


def _check_capacity(program: Program, path: str, memory: int, per_value: int) -> None:
    for d in program.decls:
        if d.kind == "matrix":
            continue  # the crossbars a matrix occupies are checked against the tiles by the assembler
        n = math.prod(d.shape) * (1 if d.kind == "param" or d.attrs.get("role") == "grad" else program.batch)
        if n * per_value > memory:
            raise LerganError(f"{path}:{d.line}:{d.column}: {d.kind} '{d.name}' {list(d.shape)} does not fit: for a "
                              f"batch of {program.batch} it needs {fmt_bytes(n * per_value)}, the machine has "
                              f"{fmt_bytes(memory)}")


def _full(program: Program, name: str) -> int:
    d = program.table("buffer")[name]
    return math.prod(d.shape) * (1 if d.attrs.get("role") == "grad" else program.batch)


def _macs(program: Program, state: State) -> int:
    matrices = program.table("matrix")
    total = 0
    for ins in state.body:
        if ins.op == "mmv":
            positions = _positions(ins)
            mat = matrices[_name(ins, "mat")]
            total += program.batch * positions * math.prod(mat.shape)
    return total


def _positions(ins: Instr) -> int:
    """The loop nest's result positions of a (checked) ``mmv``."""
    rect = ins.operands["rect"]
    assert isinstance(rect, list)
    return math.prod(p.count for p in rect if isinstance(p, Prog))


def _taps(ins: Instr) -> int:
    """The taps of a (checked) ``mmv``'s operand window."""
    win = ins.operands["win"]
    assert isinstance(win, list)
    return math.prod(w.seq.count if isinstance(w.seq, Prog) else len(seq_values(w.seq))
                     for w in win if isinstance(w, Win))


def _name(ins: Instr, key: str) -> str:
    ref = ins.operands[key]
    assert isinstance(ref, Ref)
    return ref.name


def host_bytes(program: Program) -> int:
    """What the functional simulator holds at once: every buffer, param (and its update) and matrix, every
    mmv's index grid, and the largest operand an mmv gathers."""
    buffers = sum(_full(program, d.name) for d in program.decls if d.kind == "buffer")
    params = 2 * sum(math.prod(d.shape) for d in program.decls if d.kind == "param")
    matrices = sum(math.prod(d.shape) for d in program.decls if d.kind == "matrix")
    grids, gathered = 0, 0
    for s in program.states:
        for ins in s.body:
            if ins.op != "mmv":
                continue
            positions = _positions(ins)
            taps = _taps(ins)
            grids += positions * taps * INDEX
            rows = program.table("matrix")[_name(ins, "mat")].shape[1]
            gathered = max(gathered, program.batch * positions * (rows + 1) * FLOAT)
    return (buffers + params + matrices) * FLOAT + grids + 2 * gathered

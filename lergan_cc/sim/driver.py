"""Run a loaded program: inference for a single network, GAN training iterations for a GAN.

The FSM runs from its entry state; ``iterate`` ends one training iteration (DESIGN §8:
the D step then the G step), after which the host records the losses and either
continues or halts. Inputs come from ``--inputs`` or seeded random draws.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lergan_cc.errors import LerganError, did_you_mean
from lergan_cc.fsm.program import Fold, Instr, Program, State
from lergan_cc.fsm.tables import fold_origins
from lergan_cc.fsm.values import Ref
from lergan_cc.limits import check_finite
from lergan_cc.sim.budget import check_run
from lergan_cc.sim.liveness import WALK_ITERATIONS, dead_after
from lergan_cc.sim.timing import Timing
from lergan_cc.sim.timing_fast import FastTiming, make_timing
from lergan_cc.views import view_of

if TYPE_CHECKING:  # the functional machine is imported when it runs (a timing-only run loads none of it)
    from lergan_cc.sim.machine import Machine, Step

MAX_STATES = 1_000_000


@dataclass
class SimOptions:
    iterations: int = 1
    lr: float = 0.0002
    g_loss: str = "saturating"
    seed: int = 0
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    timing: bool = False  # run the timing and energy model beside the arithmetic
    timing_only: bool = False  # the timing model alone: no tensor is read or computed
    trace: bool = False  # keep every scheduled task for a trace
    precision: str = "float32"
    timing_engine: str = "fast"  # "event": the event-by-event model (the definition; slow on big programs)


@dataclass
class SimResult:
    outputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    losses: dict[str, list[float]]
    seconds: float
    grads: dict[str, np.ndarray] = field(default_factory=dict)  # the last iteration's, by param
    timing: Timing | FastTiming | None = None
    iterations: int = 1
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)  # buffers kept after their state


@dataclass(frozen=True)
class StateDone:
    """Where a run is, after each state (a progress display): ``state`` of iteration ``iteration`` (1-based)
    of ``iterations`` has ended, ``seconds`` into the run; ``losses`` when that state ended the iteration
    (a GAN's losses of that iteration). ``str(step)`` is a line for a person."""

    iteration: int
    iterations: int
    state: str
    seconds: float
    losses: dict[str, float] | None = None

    def __str__(self) -> str:
        if self.losses is None:
            return f"iteration {self.iteration}/{self.iterations}: state {self.state} done ({self.seconds:.1f} s)"
        values = " ".join(f"{k}={v:.6f}" for k, v in self.losses.items())
        return f"iteration {self.iteration}/{self.iterations}: {values} ({self.seconds:.1f} s)".replace(":  (", ": (")


Progress = Callable[[StateDone], None]


def input_shapes(program: Program) -> dict[str, tuple[int, ...]]:
    """Run-time input key -> per-sample shape (from the buffer each ``host.input`` fills)."""
    buffers = program.table("buffer")
    return {str(i.operands["key"]): buffers[_dst(i)].shape for s in program.states for i in s.body
            if i.op == "host.input"}


def _dst(ins: Instr) -> str:
    ref = ins.operands["dst"]
    assert isinstance(ref, Ref)  # the assembler checked the operand's type
    return ref.name


def host_shapes(program: Program) -> dict[str, tuple[int, ...]]:
    """Run-time input key -> the shape of one batch of it as the host takes it: (batch, per-sample...) of the
    buffer each ``host.input`` fills, or the model's own shape when the instruction gives one."""
    buffers = program.table("buffer")
    out = {}
    for i in (i for s in program.states for i in s.body if i.op == "host.input"):
        view = view_of(i.operands)
        dst = buffers[_dst(i)]
        out[str(i.operands["key"])] = view.shape if view is not None else (program.batch, *dst.shape)
    return out


class Inputs:
    """This iteration's batch of every run-time input: given (batch or per iteration) or seeded random."""

    def __init__(self, program: Program, opts: SimOptions, source: str) -> None:
        self.batch, self.iteration = program.batch, 0
        self.rng = np.random.default_rng(opts.seed)
        self.given: dict[str, np.ndarray] = {}
        known = [*input_shapes(program), *program.table("param")]
        for key in opts.inputs:
            if key not in known:
                raise LerganError(f"{source}: key '{key}' is neither a run-time input nor a weight of this program"
                                  f"{did_you_mean(key, known)} (inputs: {', '.join(input_shapes(program)) or 'none'})")
        self.shapes = host_shapes(program)
        for key, shape in self.shapes.items():
            if key in opts.inputs:
                self.given[key] = _check_input(opts.inputs[key], key, shape, opts.iterations, source)
        self.drawn: dict[tuple[str, int], np.ndarray] = {}

    def __call__(self, key: str) -> np.ndarray:
        if key in self.given:
            a = self.given[key]
            return a[self.iteration] if a.ndim == len(self.shapes[key]) + 1 else a
        if (key, self.iteration) not in self.drawn:
            shape = self.shapes[key]
            draw = self.rng.uniform(-1, 1, shape) if key == "real" else self.rng.standard_normal(shape)
            self.drawn[(key, self.iteration)] = draw.astype(np.float32)
        return self.drawn[(key, self.iteration)]


def _check_input(a: np.ndarray, key: str, shape: tuple[int, ...], iterations: int, source: str) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.floating):
        raise LerganError(f"{source}: key '{key}' has dtype {a.dtype}, expected a float array")
    if tuple(a.shape) != shape and tuple(a.shape) != (iterations, *shape):
        raise LerganError(f"{source}: key '{key}' has shape {list(a.shape)}, expected {list(shape)} "
                          f"or {[iterations, *shape]}")
    with np.errstate(over="ignore"):
        return check_finite(a.astype(np.float32), f"{source}: key '{key}'")


def walk(program: Program, iterations: int) -> Iterator[tuple[State, bool]]:
    """The states the FSM visits, each with whether it ends an iteration (``iterate``)."""
    states = {s.name: s for s in program.states}
    state, visited, done = program.states[0], 0, 0
    while True:
        visited += 1
        t = state.transition
        ends = t.kind == "iterate"
        yield state, ends
        done += ends
        if t.kind == "halt" or visited > MAX_STATES or (ends and done >= iterations):
            return
        assert t.target is not None
        state = states[t.target]


def time_only(program: Program, path: str, opts: SimOptions, progress: Progress = lambda _: None) -> SimResult:
    """The timing model alone: the same state walk, no tensors."""
    check_run(program, path, opts.iterations, functional=False)
    start = time.perf_counter()
    timing = make_timing(program, path, opts.trace, opts.timing_engine)
    n = 0
    for state, ends in walk(program, opts.iterations):
        timing.visit(state)
        progress(StateDone(min(n + 1, opts.iterations), opts.iterations, state.name, time.perf_counter() - start,
                      {} if ends else None))
        n += ends
    return SimResult({}, {}, {}, time.perf_counter() - start, timing=timing, iterations=max(n, 1))


def simulate(program: Program, path: str, params: dict[str, np.ndarray], opts: SimOptions,
             source: str = "--inputs", progress: Progress = lambda _: None) -> SimResult:
    if opts.timing_only:
        return time_only(program, path, opts, progress)
    from threadpoolctl import threadpool_limits

    check_run(program, path, opts.iterations, functional=True)
    # the simulator's worker threads share out the GEMMs; non-finite values are checked, and named, below
    with threadpool_limits(1, user_api="blas"), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _simulate(program, path, params, opts, source, progress)


def _simulate(program: Program, path: str, params: dict[str, np.ndarray], opts: SimOptions, source: str,
              progress: Progress) -> SimResult:
    from lergan_cc.sim.instrs import compile_instr
    from lergan_cc.sim.machine import Host, Machine

    start = time.perf_counter()
    inputs = Inputs(program, opts, source)
    host = Host(inputs, opts.lr, opts.g_loss, seed=opts.seed)
    machine = Machine(program, path, dict(params), host, precision=opts.precision)
    code = {s.name: [compile_instr(i, machine, fold) for i, fold in _with_folds(s)] for s in program.states}
    keep = generator_output(program)
    drops = dead_after(program, (s for s, _ in walk(program, WALK_ITERATIONS)), {keep[1]} if keep else set())
    timing = make_timing(program, path, opts.trace, opts.timing_engine) if opts.timing or opts.trace else None
    losses: dict[str, list[float]] = {}
    for state, _ in walk(program, opts.iterations):
        _run(code[state.name], drops[state.name], machine)
        machine.end_state()
        if keep and keep[0] == state.name and keep[1] not in machine.snapshots:
            machine.snapshots[keep[1]] = machine.bufs[keep[1]].copy()
        if timing:
            timing.visit(state)
        ended = None
        if state.transition.kind == "iterate":
            for k, v in sorted(machine.losses.items()):
                losses.setdefault(k, []).append(v)
            machine.losses.clear()
            inputs.iteration += 1
            machine.host.iteration = inputs.iteration
            check_finite_state(inputs.iteration, losses, machine.params)
            ended = {k: v[-1] for k, v in losses.items()}
        iteration = min(inputs.iteration + (ended is None), opts.iterations)
        progress(StateDone(iteration, opts.iterations, state.name, time.perf_counter() - start, ended))
    for key, value in machine.host.outputs.items():
        check_finite(value, f"output '{key}' (from finite inputs and weights: float32 overflowed)")
    grads = {k[len("grad/"):]: v for k, v in machine.bufs.items() if k.startswith("grad/")}
    return SimResult(machine.host.outputs, machine.params, losses, time.perf_counter() - start, grads,
                     timing, max(inputs.iteration, 1), machine.snapshots)


def _with_folds(state: State) -> list[tuple[Instr, Fold | None]]:
    """Each instruction of ``state`` with the table line it is a row of (None for a line of its own)."""
    origins = fold_origins(state)
    return [(ins, origins.get(k)) for k, ins in enumerate(state.body)]


def check_finite_state(iteration: int, losses: dict[str, list[float]], params: dict[str, np.ndarray]) -> None:
    """Training diverged: a loss or a weight is NaN or infinite after this iteration (nothing is written)."""
    for key, values in sorted(losses.items()):
        if not math.isfinite(values[-1]):
            raise LerganError(f"training diverged at iteration {iteration}: {key} = {values[-1]} (a smaller --lr "
                              "may help); no output written")
    for name, value in sorted(params.items()):
        if not np.isfinite(value).all():
            raise LerganError(f"training diverged at iteration {iteration}: weight '{name}' has NaN or infinite "
                              "values (a smaller --lr may help); no output written")


def generator_output(program: Program) -> tuple[str, str] | None:
    """(state, buffer): what the last instruction of the first generator forward pass writes."""
    if program.kind != "gan":
        return None
    for state in program.states:
        phase, last = None, None
        for ins in state.body:
            if ins.op == "layer":
                phase = str(ins.operands["phase"])
            elif phase == "G_fwd" and isinstance(ins.operands.get("dst"), Ref):
                last = _dst(ins)
        if last:
            return state.name, last
    return None


def _run(steps: list[Step], drops: list[list[Ref]], machine: Machine) -> None:
    for step, gone in zip(steps, drops, strict=True):
        step(machine)
        if gone:
            machine.drop(gone)


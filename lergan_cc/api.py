"""The library's face: compile a model, save or load its program, simulate it, analyse a model.

The four command-line tools and ``lergan-bench`` are thin layers over these functions; a notebook
uses them directly::

    import lergan_cc
    p = lergan_cc.compile("examples/dcgan.lergan", replica="high")
    r = lergan_cc.simulate(p, timing_only=True)
    print(r.report["time_ns"])

Every bad input raises :class:`lergan_cc.LerganError` carrying the one-line message the CLIs print.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lergan_cc.context import CompileContext, warn_stderr
from lergan_cc.errors import LerganError
from lergan_cc.fsm.emitted import Emitted
from lergan_cc.fsm.program import Program as FsmProgram
from lergan_cc.ir.graph import Graph
from lergan_cc.options import DEFAULT_BATCH, Options
from lergan_cc.outputs import Outputs
from lergan_cc.pipeline import Instruments, compile_graph

Model = str | os.PathLike[str] | Any  # a path, DSL text, or an onnx.ModelProto


@dataclass
class Program:
    """A compiled program: the typed FSM program, its text, its tensors, and (when compiled here) the IR."""

    fsm: FsmProgram
    text: str
    tensors: Mapping[str, np.ndarray]
    graph: Graph | None = None
    path: str | None = None  # the file it was loaded from or saved to

    @property
    def model(self) -> str:
        return self.fsm.model

    @property
    def kind(self) -> str:
        return self.fsm.kind

    @property
    def batch(self) -> int:
        return self.fsm.batch

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``path`` (the program text) and ``path.npz`` (its tensors) as a pair: both or neither, the
        sidecar's digest recorded in the program (``lergan_cc.outputs``, ``docs/ISA.md``)."""
        with Outputs() as out:
            out.emission("path", os.fspath(path), "fsm", "")
            self.stage(out, os.fspath(path))

    def stage(self, out: Outputs, target: str) -> None:
        """Stage the pair in a run's declared outputs (``target`` and ``target.npz``): the sidecar streamed
        into its temporary (no copy of the tensors in memory), then the program with its digest."""
        from lergan_cc.fsm.sidecar import sealed, write_npz

        tensors = self.tensors
        digest = out.write(f"{target}.npz", lambda f: write_npz(f, tensors))
        assert digest is not None
        text = sealed(self.text, digest)
        out.write(target, text)
        self.text, self.path = text, target  # what is on disk (a loaded program reads the same)

    def placement(self) -> dict[str, Any]:
        """The ``--emit placement`` report of the IR this program was compiled from."""
        from lergan_cc.reports.placement import report

        if self.graph is None:
            raise LerganError("a loaded program has no IR: its placement is in its matrix declarations")
        return report(self.graph)


@dataclass
class Result:
    """What a simulation gives: ``report`` (the ``--report`` dict; with ``timing``), ``outputs`` (the
    ``--outputs`` arrays: inference outputs, or a GAN's updated weights and ``loss_d``/``loss_g``)."""

    report: dict[str, Any] | None
    outputs: dict[str, np.ndarray]
    losses: dict[str, list[float]]
    seconds: float
    trace: Callable[[], str] | None = field(default=None, repr=False)  # Chrome/Perfetto trace JSON, when asked
    precision: dict[str, Any] | None = None  # fixed16 against float32, tensor by tensor


def options(*, discriminator: str | os.PathLike[str] | None = None, mode: str | None = None,
            zero_free: str = "zfdr", target: str = "lergan-3d", replica: str | None = None,
            batch: int | None = None, hw: str | os.PathLike[str] | None = None, data_parallel: int | str = 1,
            grad_reduce: str = "tree", bn_sync: str = "global", dp_programming: str = "multicast",
            overlap: str = "none") -> Options:
    """The compile options of the keyword arguments (checked: a bad value raises :class:`LerganError`)."""
    return Options(mode=mode, discriminator=None if discriminator is None else os.fspath(discriminator),
                   zero_free=zero_free, target=target, replica=replica, hw=None if hw is None else os.fspath(hw),
                   batch=DEFAULT_BATCH if batch is None else batch, data_parallel=data_parallel,
                   grad_reduce=grad_reduce, bn_sync=bn_sync, dp_programming=dp_programming, overlap=overlap)


def lower(model: Model, opts: Options, *, emit: str = "ir", stop_after: str | None = None,
          instruments: Instruments | None = None,
          warn: Callable[[str], None] = warn_stderr) -> tuple[Graph, CompileContext]:
    """The IR after the passes ``emit`` needs (up to ``stop_after``), and the context it was compiled in."""
    ctx = CompileContext.create(opts, warn)
    return compile_graph(model, ctx, emit, stop_after, instruments), ctx


def compile(model: Model, *, discriminator: str | os.PathLike[str] | None = None, mode: str | None = None,
            zero_free: str = "zfdr", target: str = "lergan-3d", replica: str | None = None, batch: int | None = None,
            hw: str | os.PathLike[str] | None = None, data_parallel: int | str = 1, grad_reduce: str = "tree",
            bn_sync: str = "global", dp_programming: str = "multicast", overlap: str = "none",
            instruments: Instruments | None = None, warn: Callable[[str], None] = warn_stderr) -> Program:
    """Compile a GAN's training (or one network's inference) into the memory controller's program."""
    opts = options(discriminator=discriminator, mode=mode, zero_free=zero_free, target=target, replica=replica,
                   batch=batch, hw=hw, data_parallel=data_parallel, grad_reduce=grad_reduce, bn_sync=bn_sync,
                   dp_programming=dp_programming, overlap=overlap)
    return compile_program(model, opts, instruments, warn)


def compile_program(model: Model, opts: Options, instruments: Instruments | None = None,
                    warn: Callable[[str], None] = warn_stderr) -> Program:
    g, ctx = lower(model, opts, emit="fsm", instruments=instruments, warn=warn)
    emitted: Emitted | None = ctx.emitted
    if emitted is None:
        raise LerganError("the pipeline stopped before emit-fsm")
    return Program(emitted.program, emitted.text, emitted.tensors, g)


def analyze(model: Model, *, discriminator: str | os.PathLike[str] | None = None, mode: str | None = None,
            zero_free: str = "zfdr", batch: int | None = None,
            hw: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The ``--emit analysis`` data: per conv layer and phase, the zeros a zero-inserted mapping costs."""
    from lergan_cc.reports.analysis import analysis

    opts = options(discriminator=discriminator, mode=mode, zero_free=zero_free, batch=batch, hw=hw)
    g, _ = lower(model, opts, emit="analysis")
    return analysis(g)


def load_program(path: str | os.PathLike[str], *, tensors: bool = True) -> Program:
    """A program written by :meth:`Program.save` (or ``lerganc``): ``PATH`` and, with ``tensors``, ``PATH.npz``."""
    from lergan_cc.sim.loader import load_program as load_with_tensors
    from lergan_cc.sim.loader import load_text

    where = os.fspath(path)
    if tensors:
        fsm, arrays = load_with_tensors(where)
    else:
        fsm, arrays = load_text(where), {}
    return Program(fsm, Path(where).read_text(encoding="utf-8"), arrays, None, where)


def simulate(program: Program | str | os.PathLike[str], *, iterations: int = 1, timing_only: bool = False,
             inputs: Mapping[str, np.ndarray] | str | os.PathLike[str] | None = None, lr: float = 0.0002, seed: int = 0,
             g_loss: str = "saturating", precision: str = "float32", timing: bool = True, trace: bool = False,
             progress: Callable[[str], None] | None = None) -> Result:
    """Run a program: GAN training iterations or one inference. ``timing`` (default) also runs the time and
    energy model (``Result.report``); ``timing_only`` runs only that, reading no tensor. ``inputs``: arrays by
    name, or the path of an ``.npz`` holding them (run-time inputs and weight overrides)."""
    from lergan_cc.fsm.sidecar import read_npz
    from lergan_cc.sim.driver import SimOptions
    from lergan_cc.sim.driver import simulate as run
    from lergan_cc.sim.loader import check_params
    from lergan_cc.sim.precision import precision_error
    from lergan_cc.sim.report import build_report
    from lergan_cc.sim.trace import trace_json

    if not isinstance(program, Program):
        program = load_program(program, tensors=not timing_only)
    where = program.path or "<program>"
    source = os.fspath(inputs) if isinstance(inputs, (str, os.PathLike)) else "inputs"
    arrays = read_npz(source) if isinstance(inputs, (str, os.PathLike)) else dict(inputs or {})
    _check_sim_args(iterations, timing_only, precision, arrays)
    opts = SimOptions(iterations, lr, g_loss, seed, timing=timing or trace or timing_only, timing_only=timing_only,
                      trace=trace, precision=precision)
    params: dict[str, np.ndarray] = {}
    if not timing_only:
        params = check_params(program.fsm, dict(program.tensors), f"{where}.npz", where)
        opts.inputs = arrays
        params.update(check_params(program.fsm, arrays, source, where, required=False))
    result = run(program.fsm, where, params, opts, source, progress or (lambda _: None))
    report = build_report(result.timing, result.iterations) if result.timing else None
    error = precision_error(program.fsm, where, params, opts, result) if precision == "fixed16" else None
    if report is not None and error is not None:
        report["precision"] = error
    record = result.timing.record if trace and result.timing else None
    return Result(report, {} if timing_only else _outputs(program.kind, result), result.losses, result.seconds,
                  (lambda: trace_json(record)) if record is not None else None, error)


def _check_sim_args(iterations: int, timing_only: bool, precision: str,
                    inputs: Mapping[str, np.ndarray] | None) -> None:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise LerganError(f"iterations {iterations!r}: expected a positive integer")
    if precision not in ("float32", "fixed16"):
        raise LerganError(f"precision '{precision}': expected float32 or fixed16")
    if timing_only and precision != "float32":
        raise LerganError("timing_only computes no tensors: precision needs the functional simulation")
    if timing_only and inputs:
        raise LerganError("timing_only computes no tensors: inputs need the functional simulation")


def _outputs(kind: str, result: Any) -> dict[str, np.ndarray]:
    if kind != "gan":
        return dict(result.outputs)
    losses = {k: np.asarray(v, dtype=np.float32) for k, v in result.losses.items()}
    return {**result.params, **losses}


def report_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=1) + "\n"

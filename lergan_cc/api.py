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
from typing import TYPE_CHECKING, Any

import numpy as np

from lergan_cc.errors import LerganError
from lergan_cc.options import Options
from lergan_cc.outputs import Outputs

if TYPE_CHECKING:  # the compiler is imported when a model is compiled: simulating a program loads none of it
    from lergan_cc.context import CompileContext
    from lergan_cc.fsm.emitted import Emitted
    from lergan_cc.fsm.program import Program as FsmProgram
    from lergan_cc.ir.graph import Graph
    from lergan_cc.pipeline import Instruments
    from lergan_cc.sim.driver import StateDone  # the simulator is imported when it runs

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
                   batch=batch, data_parallel=data_parallel,
                   grad_reduce=grad_reduce, bn_sync=bn_sync, dp_programming=dp_programming, overlap=overlap)


def lower(model: Model, opts: Options, *, emit: str = "ir", stop_after: str | None = None,
          instruments: Instruments | None = None,
          warn: Callable[[str], None] | None = None) -> tuple[Graph, CompileContext]:
    """The IR after the passes ``emit`` needs (up to ``stop_after``), and the context it was compiled in
    (``warn``: where warnings go, default stderr)."""
    from lergan_cc.context import CompileContext, warn_stderr
    from lergan_cc.pipeline import compile_graph

    ctx = CompileContext.create(opts, warn or warn_stderr)
    return compile_graph(model, ctx, emit, stop_after, instruments), ctx


def compile(model: Model, *, discriminator: str | os.PathLike[str] | None = None, mode: str | None = None,
            zero_free: str = "zfdr", target: str = "lergan-3d", replica: str | None = None, batch: int | None = None,
            hw: str | os.PathLike[str] | None = None, data_parallel: int | str = 1, grad_reduce: str = "tree",
            bn_sync: str = "global", dp_programming: str = "multicast", overlap: str = "none",
            instruments: Instruments | None = None, warn: Callable[[str], None] | None = None) -> Program:
    """Compile a GAN's training (or one network's inference) into the memory controller's program."""
    opts = options(discriminator=discriminator, mode=mode, zero_free=zero_free, target=target, replica=replica,
                   batch=batch, hw=hw, data_parallel=data_parallel, grad_reduce=grad_reduce, bn_sync=bn_sync,
                   dp_programming=dp_programming, overlap=overlap)
    return compile_program(model, opts, instruments, warn)


def compile_program(model: Model, opts: Options, instruments: Instruments | None = None,
                    warn: Callable[[str], None] | None = None) -> Program:
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
             progress: Callable[[StateDone], None] | None = None, timing_engine: str = "fast") -> Result:
    """Run a program: GAN training iterations or one inference. ``timing`` (default) also runs the time and
    energy model (``Result.report``); ``timing_only`` runs only that, reading no tensor. ``inputs``: arrays by
    name, or the path of an ``.npz`` holding them (run-time inputs and weight overrides). ``progress`` is
    called after every state with a :class:`lergan_cc.sim.driver.StateDone` (``str(step)``: a line to show).
    ``timing_engine``: ``fast`` (default) or ``event``, the event-by-event model that defines it (the same
    report, much slower on programs with many copies)."""
    from lergan_cc.fsm.source import to_program
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
    if isinstance(inputs, (str, os.PathLike)):
        from lergan_cc.fsm.sidecar import read_npz  # (only then: a timing-only run does without it)

        arrays = read_npz(source)
    else:
        arrays = dict(inputs or {})
    _check_sim_args(iterations, timing_only, precision, arrays)
    if timing_engine not in ("fast", "event"):
        raise LerganError(f"timing_engine '{timing_engine}': expected fast or event")
    opts = SimOptions(iterations, lr, g_loss, seed, timing=timing or trace or timing_only, timing_only=timing_only,
                      trace=trace, precision=precision, timing_engine=timing_engine)
    params: dict[str, np.ndarray] = {}
    if not timing_only:
        params = check_params(program.fsm, dict(program.tensors), f"{where}.npz", where)
        opts.inputs = arrays
        params.update(check_params(program.fsm, to_program(program.fsm, arrays), source, where, required=False))
    result = run(program.fsm, where, params, opts, source, progress or (lambda _: None))
    report = build_report(result.timing, result.iterations) if result.timing else None
    error = precision_error(program.fsm, where, params, opts, result) if precision == "fixed16" else None
    if report is not None and error is not None:
        report["precision"] = error
    record = result.timing.record if trace and result.timing else None
    return Result(report, {} if timing_only else _outputs(program.fsm, result), result.losses, result.seconds,
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


def _outputs(program: FsmProgram, result: Any) -> dict[str, np.ndarray]:
    """Inference outputs, or a GAN's updated weights in the source model's layout and its losses."""
    from lergan_cc.fsm.source import to_model

    if program.kind != "gan":
        return dict(result.outputs)
    losses = {k: np.asarray(v, dtype=np.float32) for k, v in result.losses.items()}
    return {**to_model(program, result.params), **losses}


def onnx_paths(path: str | os.PathLike[str]) -> dict[str, str]:
    """Where :func:`write_onnx` puts a GAN's networks: the generator at ``path``, the discriminator beside it
    (``OUT.onnx`` -> ``OUT.discriminator.onnx``)."""
    target = os.fspath(path)
    stem = target[:-len(".onnx")] if target.endswith(".onnx") else target
    return {"G": target, "D": f"{stem}.discriminator.onnx"}


def check_onnx_writable(program: Program, timing_only: bool = False) -> dict[str, bytes]:
    """The source ONNX models of a GAN program (before a run: a program that cannot be written back is an
    error before the simulation starts)."""
    from lergan_cc.fsm.source import source_models

    if program.kind != "gan":
        raise LerganError("--write-onnx: the program is an inference (no weights are trained); compile the GAN "
                          "with --discriminator")
    sources = source_models(program.tensors)
    if not sources and program.tensors:
        raise LerganError(f"--write-onnx: {program.model} was not compiled from ONNX models (the DSL has none to "
                          f"write back into)")
    if timing_only:
        raise LerganError("--write-onnx: a timing-only run trains no weights")
    return sources


def trained_onnx(program: Program, result: Result) -> dict[str, bytes]:
    """A GAN's trained generator (``G``) and discriminator (``D``) as ONNX models: the source models with
    the updated weights of ``result`` (in the models' own layouts)."""
    from lergan_cc.frontends.onnx_export import trained_model

    sources = check_onnx_writable(program, not result.outputs)
    out = {}
    for net in ("G", "D"):
        weights = {k[2:]: v for k, v in result.outputs.items() if k.startswith(f"{net}/")}
        out[net] = trained_model(sources[net], weights, f"{program.path or program.model}: {net}")
    return out


def write_onnx(program: Program, result: Result, path: str | os.PathLike[str]) -> list[str]:
    """Save the trained generator at ``path`` and the discriminator beside it (:func:`onnx_paths`); the paths
    written. Both files or neither (``lergan_cc.outputs``)."""
    models = trained_onnx(program, result)
    paths = onnx_paths(path)
    with Outputs() as out:
        for net in models:
            out.file("--write-onnx", paths[net])
        for net, data in models.items():
            out.write(paths[net], data)
    return [paths[n] for n in models]


def report_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=1) + "\n"

"""The pass pipeline: which passes run for a set of options, their contracts checked, and the instruments
around them (print-after, dump directory, timing: MLIR/TVM style)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lergan_cc.capacity import check_fits
from lergan_cc.context import CompileContext
from lergan_cc.errors import LerganError, did_you_mean
from lergan_cc.ir.attribute import Attr
from lergan_cc.ir.attrs import SourceModel
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.printer import print_graph
from lergan_cc.ir.verifier import verify
from lergan_cc.options import DEFAULT_BATCH, Options
from lergan_cc.pass_base import Pass, available, missing_on
from lergan_cc.passes import REGISTRY, get_pass_class, providers

ZERO_FREE_PASS = {"zfdr": "zfdr", "deform": "deform", "none": "normal-reshape"}
PLACER = {"lergan-3d": "place-3d", "htree-2d": "place-htree"}
# The last pass each emission needs.
EMIT_NEEDS = {"ir": "place", "ir-json": "place", "analysis": "zero-free", "placement": "place", "fsm": "emit-fsm"}


def pipeline(options: Options, is_gan: bool) -> list[str]:
    """Pass names in order for these options (``import`` first)."""
    mode = options.mode or ("train" if is_gan else "infer")
    training = ["expand-training"] if mode == "train" else []
    reshape = ZERO_FREE_PASS[options.zero_free]
    copies = ["data-parallel"] if options.data_parallel != 1 else []
    return ["import", *training, "zero-insertion", reshape, "replicate", *copies, PLACER[options.target], "emit-fsm"]


def truncate(names: list[str], emit: str, stop_after: str | None) -> list[str]:
    """The prefix of ``names`` an emission needs, cut at ``stop_after`` when given."""
    if stop_after is not None:
        if stop_after not in names:
            raise LerganError(f"--stop-after {stop_after}: not a pass of this pipeline"
                              f"{did_you_mean(stop_after, names)} ({', '.join(names)})")
        return names[: names.index(stop_after) + 1]
    need = EMIT_NEEDS[emit]
    reshaping = next(n for n in names if n in ZERO_FREE_PASS.values())
    last = {"place": names[-2], "zero-free": reshaping}.get(need, need)
    return names[: names.index(last) + 1]


@dataclass
class Instruments:
    """Debugging around each pass: print-after, dump directory, timing."""

    print_after: str | None = None
    dump_dir: str | None = None
    time_passes: bool = False
    log: Callable[[str], None] = print
    timings: list[tuple[str, float]] = field(default_factory=list)
    dump: Callable[[str, str], None] | None = None  # write(name, text) into dump_dir (lergan_cc.outputs)
    progress: Callable[[str, int, int], None] | None = None  # (pass about to run, its index, passes in all)
    total: int = 0  # passes in the pipeline, import included (known once the model is imported)

    def before(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name, len(self.timings), max(self.total, len(self.timings) + 1))

    def check(self, names: list[str]) -> None:
        if self.print_after not in (None, "all", *names):
            raise LerganError(f"--print-ir-after {self.print_after}: not a pass of this pipeline"
                              f"{did_you_mean(str(self.print_after), names)} ({', '.join(names)})")

    def after(self, index: int, name: str, g: Graph, seconds: float) -> None:
        self.timings.append((name, seconds))
        if self.print_after in (name, "all"):
            self.log(f"// -----// IR Dump After {name} //----- //\n{print_graph(g)}")
        if self.dump is not None:
            self.dump(f"{index:03d}_{name}.lir", print_graph(g))
        elif self.dump_dir is not None:
            os.makedirs(self.dump_dir, exist_ok=True)
            with open(os.path.join(self.dump_dir, f"{index:03d}_{name}.lir"), "w", encoding="utf-8") as f:
                f.write(print_graph(g))

    def report(self) -> None:
        if not self.time_passes:
            return
        total = sum(t for _, t in self.timings) or 1e-12
        lines = ["===- Pass execution timing report -===", f"{'wall (s)':>10} {'%':>6}  pass"]
        lines += [f"{t:10.4f} {100 * t / total:6.1f}  {n}" for n, t in self.timings]
        lines.append(f"{total:10.4f} {100.0:6.1f}  total")
        self.log("\n".join(lines))


def check_contracts(passes: list[Pass], have: set[type[Attr]]) -> None:
    """Refuse an order that cannot work: one line naming the first missing attribute and its providers."""
    have = set(have)
    for p in passes:
        for cls in p.requires:
            if cls not in have:
                by = " or ".join(f"'{n}'" for n in providers(cls)) or "no pass"
                raise LerganError(f"pass '{p.name}' needs the attribute '{cls.key}', which {by} provides: "
                                  f"run it before '{p.name}'")
        have |= set(p.provides)


def run_passes(passes: list[Pass], g: Graph, ctx: CompileContext, instruments: Instruments) -> Graph:
    """Run passes in order (contracts checked first), verifying the IR after each one."""
    check_contracts(passes, available(g))
    for p in passes:
        why = p.precondition(g)
        if why is not None:
            raise LerganError(f"pass '{p.name}': {why}")
        instruments.before(p.name)
        start = time.perf_counter()
        g = p.run(g, ctx)
        for cls in p.provides:
            where = missing_on(g, cls)
            if where is not None:
                raise AssertionError(f"pass '{p.name}' did not attach '{cls.key}' to {where}")
        verify(g, ctx.hw)
        instruments.after(len(instruments.timings), p.name, g, time.perf_counter() - start)
    return g


def resolve(names: list[str], options: Options) -> list[Pass]:
    """Passes by name, each configured from the options, then from its own ``name{key=value,...}``
    options when the spec gives them (xDSL style: ``replicate{degree=high}``)."""
    return [_configure(spec, options) for spec in names]


def _configure(spec: str, options: Options) -> Pass:
    name, _, rest = spec.partition("{")
    cls = get_pass_class(name)
    p = cls.from_options(options)
    if not rest:
        return p
    if not rest.endswith("}"):
        raise LerganError(f"pass '{spec}': expected {name}{{key=value,...}}")
    known: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(p)} \
        if dataclasses.is_dataclass(p) else {}
    changes: dict[str, str] = {}
    for item in filter(None, (i.strip() for i in rest[:-1].split(","))):
        key, eq, value = item.partition("=")
        if not eq or key.strip() not in known:
            raise LerganError(f"pass '{name}': unknown option '{key.strip()}' (options: {', '.join(known) or 'none'})")
        changes[key.strip()] = value.strip()
    try:
        configured: Pass = dataclasses.replace(p, **changes)  # type: ignore[type-var]  # every pass is a dataclass
        return configured
    except (TypeError, ValueError) as e:
        raise LerganError(f"pass '{name}': {e}") from None


def resolve_batch(ctx: CompileContext, g: Graph) -> None:
    """Set the batch to compile for: ``--batch`` when given, else the model's static batch (an ONNX input's
    first dimension), else :data:`DEFAULT_BATCH`; ``ctx.batch_from`` says which. A model whose inputs or
    outputs the host regroups (``Flatten`` with axis 0, Gemm ``transA=1``, ...) runs only at its own batch."""
    options, source = ctx.options, g.get(SourceModel)
    model = source.batch if source is not None else None
    if options.batch is None:
        ctx.options = dataclasses.replace(options, batch=model or DEFAULT_BATCH)
        ctx.batch_from = "model" if model else "default"
        return
    if source is not None and source.fixes_batch and model != options.batch:
        views = ", ".join(f"'{n}'" for n in sorted({*source.inputs, *source.outputs}))
        raise LerganError(f"--batch {options.batch}: {g.model} hands {views} over regrouped, which ties it to its "
                          f"own batch of {model}")
    ctx.batch_from = "model" if model == options.batch else "option"


def compile_graph(model: object, ctx: CompileContext, emit: str = "ir", stop_after: str | None = None,
                  instruments: Instruments | None = None) -> Graph:
    """Import ``model`` (a path, DSL text or an ONNX model) and run the pipeline ``emit`` needs (up to
    ``stop_after``)."""
    instruments = instruments or Instruments(log=lambda _: None)
    instruments.before("import")
    start = time.perf_counter()
    front_end: Any = get_pass_class("import")  # the front end takes the model, not options: see passes/import.py
    g = front_end(model).load(ctx.options)
    resolve_batch(ctx, g)
    verify(g, ctx.hw)
    check_fits(g, ctx.hw, ctx.options.the_batch, str(model) if isinstance(model, (str, os.PathLike)) and
               "\n" not in str(model) else g.model)  # before any pass allocates for it
    instruments.after(0, "import", g, time.perf_counter() - start)
    names = truncate(pipeline(ctx.options, g.kind == "gan"), emit, stop_after)
    instruments.check(names)
    instruments.total = len(names)
    return run_passes(resolve(names[1:], ctx.options), g, ctx, instruments)


__all__ = ["REGISTRY", "Instruments", "compile_graph", "pipeline", "resolve", "run_passes", "truncate"]

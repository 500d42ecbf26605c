"""The pass pipeline: which passes run for a set of options, and the instruments around them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lergan_cc.errors import LerganError, did_you_mean
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.printer import print_graph
from lergan_cc.ir.verifier import verify
from lergan_cc.options import Options
from lergan_cc.passes import Pass, get_pass

ZERO_FREE_PASS = {"zfdr": "zfdr", "deform": "deform", "none": "normal-reshape"}
PLACER = {"lergan-3d": "place-3d", "htree-2d": "place-htree"}
# The last pass each emission needs.
EMIT_NEEDS = {"ir": "place", "ir-json": "place", "analysis": "zero-free", "placement": "place", "fsm": "emit-fsm"}


def pipeline(options: Options, is_gan: bool) -> list[str]:
    """Pass names in order for these options (``import`` first)."""
    mode = options.mode or ("train" if is_gan else "infer")
    training = ["expand-training"] if mode == "train" else []
    reshape = ZERO_FREE_PASS[options.zero_free]
    return ["import", *training, "zero-insertion", reshape, "replicate", PLACER[options.target], "emit-fsm"]


def truncate(names: list[str], emit: str, stop_after: str | None) -> list[str]:
    """The prefix of ``names`` an emission needs, cut at ``stop_after`` when given."""
    if stop_after is not None:
        if stop_after not in names:
            raise LerganError(f"--stop-after {stop_after}: not a pass of this pipeline"
                              f"{did_you_mean(stop_after, names)} ({', '.join(names)})")
        return names[: names.index(stop_after) + 1]
    need = EMIT_NEEDS[emit]
    last = {"place": names[-2], "zero-free": names[-5]}.get(need, need)
    return names[: names.index(last) + 1]


@dataclass
class Instruments:
    """Debugging around each pass: print-after, dump directory, timing (MLIR/TVM style)."""

    print_after: str | None = None
    dump_dir: str | None = None
    time_passes: bool = False
    log: Callable[[str], None] = print
    timings: list[tuple[str, float]] = field(default_factory=list)
    dump: Callable[[str, str], None] | None = None  # write(name, text) into dump_dir (lergan_cc.outputs)

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


def run_passes(passes: list[Pass], g: Graph | None, options: Options, instruments: Instruments) -> Graph:
    """Run passes in order, verifying the IR after each one."""
    for p in passes:
        start = time.perf_counter()
        g = p.apply(g, options)
        verify(g)
        instruments.after(len(instruments.timings), p.name, g, time.perf_counter() - start)
    if g is None:
        raise LerganError("empty pass pipeline")
    return g


def resolve(names: list[str]) -> list[Pass]:
    return [get_pass(n) for n in names]


def compile_model(path: str, options: Options, emit: str = "ir", stop_after: str | None = None,
                  instruments: Instruments | None = None) -> Graph:
    """Import ``path`` and run the pipeline ``emit`` needs (up to ``stop_after``): the library entry point."""
    from lergan_cc.passes import get_pass

    instruments = instruments or Instruments(log=lambda _: None)
    importer = get_pass("import")
    importer.path = path  # type: ignore[attr-defined]
    g = run_passes([importer], None, options, instruments)
    names = truncate(pipeline(options, g.kind == "gan"), emit, stop_after)
    if instruments.print_after not in (None, "all", *names):
        raise LerganError(f"--print-ir-after {instruments.print_after}: not a pass of this pipeline"
                          f"{did_you_mean(instruments.print_after, names)} ({', '.join(names)})")
    return run_passes(resolve(names[1:]), g, options, instruments)

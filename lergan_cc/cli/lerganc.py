"""``lerganc``: compile a GAN (or one network) for the LerGAN accelerator (a thin layer over ``lergan_cc.api``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from lergan_cc.cli.collector import without_gc
from lergan_cc.cli.common import ArgumentParser, as_command, guarded
from lergan_cc.errors import LerganError
from lergan_cc.limits import int_flag
from lergan_cc.options import (
    AUTO,
    BN_SYNC,
    DEFAULT_BATCH,
    DP_PROGRAMMING,
    GRAD_REDUCE,
    MAX_BATCH,
    MODES,
    OVERLAP,
    REPLICAS,
    TARGETS,
    ZERO_FREE,
)
from lergan_cc.outputs import STDOUT, Outputs

if TYPE_CHECKING:  # the compiler is imported when it runs (``--help`` loads none of it)
    from lergan_cc.ir.graph import Graph

EMITS = ("fsm", "ir", "ir-json", "analysis", "placement")


def _emitter(emit: str) -> Callable[[Graph], str]:
    if emit == "ir":
        from lergan_cc.ir.printer import print_graph

        return print_graph
    if emit == "ir-json":
        from lergan_cc.ir.jsonform import dumps

        return dumps
    if emit == "analysis":
        from lergan_cc.reports.analysis import dumps as analysis_dumps

        return analysis_dumps
    from lergan_cc.reports.placement import dumps as placement_dumps

    return placement_dumps


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lerganc", description="Compile GAN training for the LerGAN ReRAM PIM accelerator.")
    p.add_argument("model", help="MODEL.lergan or MODEL.onnx (a generator when --discriminator is given)")
    p.add_argument("-o", dest="out", help="output file (default: stdout for text, MODEL-stem.fsm for programs)")
    p.add_argument("--emit", choices=EMITS, default="fsm", help="what to write: the program, the IR (text or "
                   "JSON), the zero-insertion analysis (a table on a terminal, JSON otherwise) or the placement")
    p.add_argument("--mode", choices=MODES, help="train (default for a GAN) or infer (default for one network)")
    p.add_argument("--discriminator", metavar="D.onnx",
                   help="the discriminator of an ONNX GAN (default: none: MODEL alone)")
    p.add_argument("--zero-free", choices=ZERO_FREE, default="zfdr", help="reshaping: LerGAN's zero-free data "
                   "reshaping, ZARA's deformation, or the zero-inserted (normal) mapping")
    p.add_argument("--target", choices=TARGETS, default="lergan-3d", help="the machine: LerGAN's 3-D banks or a "
                   "2-D H-tree")
    p.add_argument("--replica", choices=REPLICAS, help="replica degree (default: the model's replica_degree, else low)")
    p.add_argument("--hw", metavar="HW.toml", help="hardware description overriding the defaults "
                   "(default: targets/lergan-3d.toml)")
    p.add_argument("--batch", type=int_flag("--batch", high=MAX_BATCH),
                   help=f"samples per batch (default: the ONNX model's static batch, else {DEFAULT_BATCH})")
    p.add_argument("--data-parallel", metavar="N|auto", type=_copies, default=1,
                   help="sample-parallel copies of every phase's matrices: N, or as many as fit (default: 1)")
    p.add_argument("--grad-reduce", choices=GRAD_REDUCE, default="tree",
                   help="sum the copies' gradients on the node adders, or at home (default: tree)")
    p.add_argument("--bn-sync", choices=BN_SYNC, default="global",
                   help="batch statistics over the whole batch, or per copy's shard (default: global)")
    p.add_argument("--dp-programming", choices=DP_PROGRAMMING, default="multicast",
                   help="weights to the copies in one stream per bank, or one per copy (default: multicast)")
    p.add_argument("--overlap", choices=OVERLAP, default="none",
                   help="programming overlaps computation as the paper's Sec. IV-B describes (default: none)")
    p.add_argument("--print-ir-after", metavar="NAME|all",
                   help="print the IR after this pass (or all), on stderr")
    p.add_argument("--dump-ir", metavar="DIR", help="write NNN_<pass>.lir after every pass (default: not written)")
    p.add_argument("--stop-after", metavar="NAME", help="stop the pipeline after this pass (default: the last pass "
                   "--emit needs)")
    p.add_argument("--time-passes", action="store_true", help="print the wall time of every pass")
    p.add_argument("--plot-placement", metavar="FILE.png", help="draw the banks, tiles and layers placed, with any "
                   "--emit (default: not drawn)")
    return p


def _copies(text: str) -> int | str:
    if text == AUTO:
        return AUTO
    if not text.isdigit() or int(text) < 1 or len(text) > 9:
        raise LerganError(f"--data-parallel: expected auto or a positive integer, got '{text}'")
    return int(text)


def run(argv: list[str] | None = None) -> int:
    with without_gc():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from lergan_cc import api
    from lergan_cc.cli.progress import Progress
    from lergan_cc.pipeline import Instruments
    from lergan_cc.preflight import check_compile_flags

    with Outputs.of(args, inputs={"model": "MODEL", "discriminator": "--discriminator", "hw": "--hw"},
                    files={"plot_placement": "--plot-placement"}, dirs={"dump_ir": "--dump-ir"}) as out, \
            Progress(f"compiling {args.model}") as shown:
        target = out.emission("-o", args.out, args.emit, args.model)
        check_compile_flags(args.emit, args.stop_after, args.print_ir_after, args.zero_free)
        opts = api.options(discriminator=args.discriminator, mode=args.mode, zero_free=args.zero_free,
                           target=args.target, replica=args.replica, batch=args.batch, hw=args.hw,
                           data_parallel=args.data_parallel, grad_reduce=args.grad_reduce, bn_sync=args.bn_sync,
                           dp_programming=args.dp_programming, overlap=args.overlap)
        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)  # noqa: E731
        instruments = Instruments(args.print_ir_after, args.dump_ir, args.time_passes, log,
                                  dump=out.writer(args.dump_ir),
                                  progress=lambda name, i, n: shown.update(f"pass {name}", i, n))
        # the placement picture needs the placement passes, which --emit analysis does not run otherwise
        emit = "placement" if args.plot_placement and args.emit == "analysis" else args.emit
        g, ctx = api.lower(args.model, opts, emit=emit, stop_after=args.stop_after, instruments=instruments)
        instruments.report()
        png = _plot(g, ctx.hw.tiles_per_bank, ctx.hw.crossbars_per_tile, args) if args.plot_placement else None
        if args.emit == "fsm":
            if ctx.emitted is None:
                raise LerganError("--emit fsm: the pipeline stopped before emit-fsm")
            api.Program(ctx.emitted.program, ctx.emitted.text, ctx.emitted.tensors, g).stage(out, target)
        else:
            out.write(target, _text(args.emit, g, target))
        if png is not None:
            out.write(args.plot_placement, png)
    return 0


def _text(emit: str, g: Graph, target: str) -> str:
    """The text emission; ``--emit analysis`` to a terminal is a table for a person (JSON anywhere else)."""
    if emit == "analysis" and target == STDOUT and sys.stdout.isatty():
        from lergan_cc.reports.analysis import analysis, table

        return table(analysis(g))
    return _emitter(emit)(g)


def _plot(g: Graph, tiles: int, per_tile: int, args: argparse.Namespace) -> bytes:
    """The placement picture; the placement passes must have run (not cut off by --stop-after)."""
    from lergan_cc.ir.attrs import PlacementSummary
    from lergan_cc.reports.placement import plot

    if g.get(PlacementSummary) is None:
        raise LerganError(f"--plot-placement: the placement passes did not run (--stop-after {args.stop_after} "
                          f"stops before them)")
    return plot(g, tiles, per_tile)


def main(argv: list[str] | None = None) -> int:
    return guarded("lerganc", lambda: run(argv))


def console() -> NoReturn:
    """The ``lerganc`` command."""
    as_command("lerganc", main)


if __name__ == "__main__":
    console()

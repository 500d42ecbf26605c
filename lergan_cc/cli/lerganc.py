"""``lerganc``: compile a GAN (or one network) for the LerGAN accelerator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lergan_cc import analysis, placement_report
from lergan_cc.cli.common import ArgumentParser, guarded
from lergan_cc.errors import LerganError
from lergan_cc.ir import jsonform
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.printer import print_graph
from lergan_cc.limits import int_flag
from lergan_cc.options import MODES, REPLICAS, TARGETS, ZERO_FREE, Options
from lergan_cc.outputs import Outputs
from lergan_cc.pipeline import Instruments, compile_model
from lergan_cc.preflight import check_compile_flags

EMITTERS: dict[str, Callable[[Graph], str]] = {"ir": print_graph, "ir-json": jsonform.dumps,
                                               "analysis": analysis.dumps, "placement": placement_report.dumps}
EMITS = ("fsm", "ir", "ir-json", "analysis", "placement")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lerganc", description="Compile GAN training for the LerGAN ReRAM PIM accelerator.")
    p.add_argument("model", help="MODEL.lergan or MODEL.onnx (a generator when --discriminator is given)")
    p.add_argument("-o", dest="out", help="output file (default: stdout for text, MODEL-stem.fsm for programs)")
    p.add_argument("--emit", choices=EMITS, default="fsm")
    p.add_argument("--mode", choices=MODES, help="train (default for a GAN) or infer (default for one network)")
    p.add_argument("--discriminator", metavar="D.onnx", help="the discriminator of an ONNX GAN")
    p.add_argument("--zero-free", choices=ZERO_FREE, default="zfdr")
    p.add_argument("--target", choices=TARGETS, default="lergan-3d")
    p.add_argument("--replica", choices=REPLICAS, help="replica degree (default: the model's replica_degree, else low)")
    p.add_argument("--hw", metavar="HW.toml", help="hardware description overriding the defaults")
    p.add_argument("--batch", type=int_flag("--batch"), default=64)
    p.add_argument("--print-ir-after", metavar="NAME|all", help="print the IR after this pass (or all)")
    p.add_argument("--dump-ir", metavar="DIR", help="write NNN_<pass>.lir after every pass")
    p.add_argument("--stop-after", metavar="NAME", help="stop the pipeline after this pass")
    p.add_argument("--time-passes", action="store_true", help="print the wall time of every pass")
    p.add_argument("--plot-placement", metavar="FILE.png", help="draw the banks, tiles and layers placed")
    return p


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with Outputs.of(args, inputs={"model": "MODEL", "discriminator": "--discriminator", "hw": "--hw"},
                    files={"plot_placement": "--plot-placement"}, dirs={"dump_ir": "--dump-ir"}) as out:
        target = out.emission("-o", args.out, args.emit, args.model)
        check_compile_flags(args.emit, args.stop_after, args.print_ir_after, args.zero_free)
        options = Options(mode=args.mode, discriminator=args.discriminator, zero_free=args.zero_free,
                          target=args.target, replica=args.replica, hw=args.hw, batch=args.batch)
        if args.hw is not None:
            from lergan_cc.targets.hw import load_hw

            load_hw(args.hw)  # validate the --hw file before any work (one-line error naming file and key)
        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)  # noqa: E731
        instruments = Instruments(args.print_ir_after, args.dump_ir, args.time_passes, log,
                                  dump=out.writer(args.dump_ir))
        g = compile_model(args.model, options, args.emit, args.stop_after, instruments)
        instruments.report()
        if args.emit == "fsm":
            _write_program(g, out, target)
            return 0
        if args.emit not in EMITTERS:
            raise LerganError(f"--emit {args.emit} is not implemented in this version of lergan_cc")
        out.write(target, EMITTERS[args.emit](g))
        if args.plot_placement:
            out.write(args.plot_placement, _plot(g, args))
    return 0


def _write_program(g: Graph, out: Outputs, path: str) -> None:
    """The program to ``path`` and its tensors to ``<path>.npz``, the sidecar's digest in the program."""
    from lergan_cc.fsm.sidecar import sealed
    from lergan_cc.passes.emit_fsm import emitted

    if not hasattr(g, "_emitted_fsm"):
        raise LerganError("--emit fsm: the pipeline stopped before emit-fsm")
    program = emitted(g)
    text, npz = sealed(program.text, program.tensors)
    out.write(f"{path}.npz", npz)
    out.write(path, text)


def _plot(g: Graph, args: argparse.Namespace) -> bytes:
    """The placement picture; the placement passes must have run (not cut off by --stop-after)."""
    if "placement" not in g.meta:
        raise LerganError(f"--plot-placement: the placement passes did not run (--stop-after {args.stop_after})")
    from lergan_cc.targets.hw import load_hw

    hw = load_hw(args.hw)
    return placement_report.plot(g, hw.tiles_per_bank, hw.crossbars_per_tile)


def main(argv: list[str] | None = None) -> int:
    return guarded("lerganc", lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())

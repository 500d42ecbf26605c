"""``lergan-opt``: run passes on textual IR and print the result (the golden-test driver)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from lergan_cc.capacity import check_fits
from lergan_cc.cli.collector import without_gc
from lergan_cc.cli.common import ArgumentParser, as_command, guarded
from lergan_cc.cli.progress import Progress
from lergan_cc.context import CompileContext
from lergan_cc.errors import LerganError
from lergan_cc.ir.parser import parse_ir, parse_ir_file
from lergan_cc.ir.printer import print_graph
from lergan_cc.ir.verifier import verify
from lergan_cc.limits import int_flag
from lergan_cc.options import DEFAULT_BATCH, MAX_BATCH, REPLICAS, TARGETS, ZERO_FREE, Options
from lergan_cc.outputs import Outputs
from lergan_cc.pipeline import Instruments, resolve, resolve_batch, run_passes


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lergan-opt", description="Run lergan_cc passes on textual IR (.lir).")
    p.add_argument("input", help="IN.lir, or - for stdin")
    p.add_argument("-p", dest="passes", default="", help="comma-separated passes, each NAME or NAME{key=value} "
                   "(default: none: verify and print)")
    p.add_argument("-o", dest="out", help="output file (default stdout)")
    p.add_argument("--zero-free", choices=ZERO_FREE, default="zfdr", help="the reshaping scheme passes configure "
                   "themselves from")
    p.add_argument("--target", choices=TARGETS, default="lergan-3d", help="the machine: LerGAN's 3-D banks or a "
                   "2-D H-tree")
    p.add_argument("--replica", choices=REPLICAS, help="replica degree (default: the model's replica_degree, else low)")
    p.add_argument("--hw", metavar="HW.toml", help="hardware description overriding the defaults "
                   "(default: targets/lergan-3d.toml)")
    p.add_argument("--batch", type=int_flag("--batch", high=MAX_BATCH),
                   help=f"samples per batch (default: the IR's source batch, else {DEFAULT_BATCH})")
    p.add_argument("--print-ir-after", metavar="NAME|all", help="print the IR after this pass (or all), on stderr")
    p.add_argument("--time-passes", action="store_true", help="print the wall time of every pass")
    return p


def optimize(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with Outputs.of(args, inputs={"input": "IN.lir", "hw": "--hw"}, files={"out": "-o"}) as out:
        out.write(args.out, _optimize(args))
    return 0


def _optimize(args: argparse.Namespace) -> str:
    names = _split(args.passes)
    if "import" in names:
        raise LerganError("pass 'import' reads model files: use lerganc, not lergan-opt")
    g = parse_ir(_stdin(), "<stdin>") if args.input == "-" else parse_ir_file(args.input)
    options = Options(mode="train" if g.kind == "gan" else "infer", zero_free=args.zero_free, target=args.target,
                      replica=args.replica, hw=args.hw, batch=args.batch)
    ctx = CompileContext.create(options)
    resolve_batch(ctx, g)
    verify(g, ctx.hw)
    check_fits(g, ctx.hw, ctx.options.the_batch, args.input)
    passes = resolve(names, ctx.options)
    with Progress(f"passes on {args.input}", len(passes)) as shown:
        instruments = Instruments(args.print_ir_after, None, args.time_passes, lambda s: print(s, file=sys.stderr),
                                  progress=lambda name, i, n: shown.update(f"pass {name}", i, n), total=len(passes))
        instruments.check([n.partition("{")[0] for n in names])
        g = run_passes(passes, g, ctx, instruments)
    instruments.report()
    return print_graph(g)


def _stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as e:
        raise LerganError(f"<stdin>: not UTF-8 text (byte {e.start}): not a .lir file") from None


def _split(text: str) -> list[str]:
    """``a,b{k=v,k2=w},c`` -> ``["a", "b{k=v,k2=w}", "c"]`` (commas inside braces stay)."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    return [n.strip() for n in [*out, current] if n.strip()]


def main(argv: list[str] | None = None) -> int:
    def run() -> int:
        with without_gc():  # passes make next to no cyclic garbage (lergan_cc.cli.collector)
            return optimize(argv)

    return guarded("lergan-opt", run)


def console() -> NoReturn:
    """The ``lergan-opt`` command."""
    as_command("lergan-opt", main)


if __name__ == "__main__":
    console()

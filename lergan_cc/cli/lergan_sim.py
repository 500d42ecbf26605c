"""``lergan-sim``: run an FSM program (``PROG.fsm`` + ``PROG.fsm.npz``): the numbers it computes and the
time and energy it takes (``--report``, ``--trace``; ``--timing-only`` skips the arithmetic and reads no
tensor; ``--precision fixed16`` emulates the crossbars' 16-bit fixed point and reports its error).
A thin layer over ``lergan_cc.api.simulate``."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from lergan_cc.cli.collector import without_gc
from lergan_cc.cli.common import ArgumentParser, as_command, guarded
from lergan_cc.cli.progress import Progress
from lergan_cc.errors import LerganError
from lergan_cc.limits import float_flag, int_flag
from lergan_cc.outputs import Outputs

if TYPE_CHECKING:  # the simulator is imported when it runs (``--help`` loads none of it)
    from lergan_cc import api
    from lergan_cc.sim.driver import StateDone


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lergan-sim", description="Simulate a LerGAN FSM program.")
    p.add_argument("program", help="PROG.fsm (its tensors are read from PROG.fsm.npz)")
    p.add_argument("--inputs", metavar="IN.npz", help="run-time inputs (and weight overrides, in the model's "
                   "layout) by name (default: "
                   "seeded random inputs, the sidecar's weights)")
    p.add_argument("--outputs", metavar="OUT.npz", help="write outputs (inference) or updated weights and losses "
                   "(default: not written)")
    p.add_argument("--write-onnx", metavar="OUT.onnx", help="write the trained generator to OUT.onnx and the "
                   "discriminator to OUT.discriminator.onnx (a GAN compiled from ONNX) "
                   "(default: not written)")
    p.add_argument("--iterations", type=int_flag("--iterations", high=10**12), default=1,
                   help="GAN training iterations (an inference runs once)")
    p.add_argument("--lr", type=float_flag("--lr", high=math.inf), default=0.0002, help="SGD learning rate")
    p.add_argument("--timing-only", action="store_true", help="only the time and energy model: no tensor is "
                   "read or computed")
    p.add_argument("--precision", choices=("float32", "fixed16"), default="float32",
                   help="fixed16: emulate the crossbars' 16-bit fixed point and report its error against float32")
    p.add_argument("--report", metavar="R.json", help="write the time and energy report (default: not written)")
    p.add_argument("--trace", metavar="T.json", help="write a Chrome/Perfetto trace (default: not written)")
    p.add_argument("--g-loss", choices=("saturating", "nonsaturating"), default="saturating",
                   help="the generator's loss: log(1 - D(G(z))), or -log D(G(z))")
    p.add_argument("--seed", type=int_flag("--seed", low=0, high=2**63 - 1), default=0,
                   help="seed of the inputs drawn when --inputs gives none")
    return p


def _keep_freed_memory() -> None:
    """glibc: serve large arrays from the heap and keep freed ones there. The functional simulation
    allocates and frees arrays of tens of MB all the time; by default each is a fresh mmap whose pages
    fault in (half its system time). The peak resident size does not change. No-op elsewhere."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        mallopt(-3, 1 << 29)  # M_MMAP_THRESHOLD: arrays under 512 MB from the heap
        mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give memory back to the system only past 1 GB free


def _watch(shown: Progress) -> Callable[[StateDone], None]:
    """The bar follows the states; an iteration's losses stay above it (a terminal only: a log or a pipe
    gets the results alone)."""
    def step(done: StateDone) -> None:
        ended = done.losses is not None
        shown.update(f"iteration {done.iteration}/{done.iterations}: {done.state}",
                     done.iteration - (not ended), done.iterations)
        if ended and done.losses:
            shown.line(f"lergan-sim: {done}")
    return step


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.timing_only and args.outputs:
        raise LerganError("--timing-only computes no tensors: --outputs needs the functional simulation")
    if args.timing_only and args.precision != "float32":
        raise LerganError("--timing-only computes no tensors: --precision needs the functional simulation")
    if args.timing_only and args.inputs:
        raise LerganError("--timing-only computes no tensors: --inputs needs the functional simulation")
    if args.timing_only and args.write_onnx:
        raise LerganError("--timing-only computes no tensors: --write-onnx needs the functional simulation")
    with Outputs.of(args, inputs={"inputs": "--inputs"},
                    files={"outputs": "--outputs", "report": "--report", "trace": "--trace"}) as out:
        out.program_input("PROG", args.program)
        if args.write_onnx:
            from lergan_cc.api import onnx_paths

            for path in onnx_paths(args.write_onnx).values():
                out.file("--write-onnx", path)
        if args.timing_only:
            with without_gc():  # reading, checking, timing and reporting make next to no cyclic garbage
                _simulate(args, out)
        else:
            _keep_freed_memory()
            _simulate(args, out)
    return 0


def _simulate(args: argparse.Namespace, out: Outputs) -> None:
    from lergan_cc import api
    from lergan_cc.sim.report import summary

    program = api.load_program(args.program, tensors=not args.timing_only)
    if args.write_onnx:
        api.check_onnx_writable(program, args.timing_only)
    timing = bool(args.report or args.trace or args.timing_only)
    with Progress(f"simulating {args.program}", args.iterations) as shown:
        result = api.simulate(program, iterations=args.iterations, timing_only=args.timing_only, inputs=args.inputs,
                              lr=args.lr, seed=args.seed, g_loss=args.g_loss, precision=args.precision,
                              timing=timing, trace=bool(args.trace), progress=_watch(shown))
    models = api.trained_onnx(program, result) if args.write_onnx else {}
    if args.outputs:
        from lergan_cc.fsm.sidecar import write_npz  # (a timing-only run does without it: 9 ms of imports)

        outputs = result.outputs
        out.write(args.outputs, lambda f: write_npz(f, outputs))  # streamed into its temporary
    for net, path in api.onnx_paths(args.write_onnx).items() if models else ():
        out.write(path, models[net])
    if args.report and result.report is not None:
        out.write(args.report, api.report_json(result.report))
    if args.trace and result.trace is not None:
        out.write(args.trace, result.trace())
    lines = [] if args.timing_only else _summary(program.kind, result)
    if result.report is not None:
        lines.append(summary(result.report))
    if result.precision is not None:
        lines.append("fixed16 vs float32: " + ", ".join(f"{k}: max rel {v['max_rel']:.3g}, mean rel "
                                                        f"{v['mean_rel']:.3g}"
                                                        for k, v in result.precision["compared"].items()))
    out.write("-", "".join(line + "\n" for line in lines))  # after the files are in place


def _summary(kind: str, r: api.Result) -> list[str]:
    if kind == "gan":
        n = len(next(iter(r.losses.values()), []))
        lines = [f"iteration {i + 1}: " + " ".join(f"{k}={v[i]:.6f}" for k, v in sorted(r.losses.items()))
                 for i in range(n)]
    else:
        lines = [f"{k}: shape {list(v.shape)} mean {float(v.mean()):.6g} std {float(v.std()):.6g}"
                 for k, v in r.outputs.items()]
    return [*lines, f"simulated in {r.seconds:.2f} s"]


def main(argv: list[str] | None = None) -> int:
    return guarded("lergan-sim", lambda: run(argv))


HUGEPAGE_ADVICE = "NUMPY_MADVISE_HUGEPAGE"


def console() -> NoReturn:
    """The ``lergan-sim`` command. numpy advises the kernel to back every array of 4 MB or more with
    transparent huge pages (read when numpy is imported, here after this line: nothing above imports it);
    the simulator's instructions make fresh arrays of tens of MB, and on the project's machine (a VM) a
    huge page's first touch cost so much that a DCGAN iteration spent 1.4-1.6 s in the kernel, 0.4-0.5 s
    without the advice (docs/performance.md). ``NUMPY_MADVISE_HUGEPAGE=1`` in the environment keeps it."""
    os.environ.setdefault(HUGEPAGE_ADVICE, "0")
    as_command("lergan-sim", main)


if __name__ == "__main__":
    console()

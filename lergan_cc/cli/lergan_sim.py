"""``lergan-sim``: run an FSM program (``PROG.fsm`` + ``PROG.fsm.npz``): the numbers it computes and the
time and energy it takes (``--report``, ``--trace``; ``--timing-only`` skips the arithmetic and reads no
tensor; ``--precision fixed16`` emulates the crossbars' 16-bit fixed point and reports its error)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from lergan_cc.cli.common import ArgumentParser, guarded, write_atomic
from lergan_cc.errors import LerganError

if TYPE_CHECKING:  # the simulator is imported when it runs (``--help`` loads none of it)
    import numpy as np

    from lergan_cc.sim.driver import SimResult


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lergan-sim", description="Simulate a LerGAN FSM program.")
    p.add_argument("program", help="PROG.fsm (its tensors are read from PROG.fsm.npz)")
    p.add_argument("--inputs", metavar="IN.npz", help="run-time inputs (and weight overrides) by name")
    p.add_argument("--outputs", metavar="OUT.npz", help="write outputs (inference) or updated weights and losses")
    p.add_argument("--iterations", type=_positive, default=1)
    p.add_argument("--lr", type=float, default=0.0002)
    p.add_argument("--timing-only", action="store_true")
    p.add_argument("--precision", choices=("float32", "fixed16"), default="float32")
    p.add_argument("--report", metavar="R.json")
    p.add_argument("--trace", metavar="T.json")
    p.add_argument("--g-loss", choices=("saturating", "nonsaturating"), default="saturating")
    p.add_argument("--seed", type=int, default=0)
    return p


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise LerganError(f"--iterations: expected a positive integer, got '{text}'")
    return int(text)


def _check_flags(args: object) -> None:
    if args.timing_only and args.outputs:  # type: ignore[attr-defined]
        raise LerganError("--timing-only computes no tensors: --outputs needs the functional simulation")
    if args.timing_only and args.precision != "float32":  # type: ignore[attr-defined]
        raise LerganError("--timing-only computes no tensors: --precision needs the functional simulation")


def _keep_freed_memory() -> None:
    """glibc: serve large arrays from the heap and keep freed ones there. The functional simulation
    allocates and frees arrays of tens of MB all the time; by default each is a fresh mmap whose pages
    fault in (half its system time). The peak resident size does not change. No-op elsewhere."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        mallopt(-3, 1 << 29)  # M_MMAP_THRESHOLD: arrays under 512 MB from the heap
        mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give memory back to the system only past 1 GB free


def _progress(s: str) -> None:
    print(f"lergan-sim: {s}", file=sys.stderr, flush=True)


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_flags(args)
    from lergan_cc.fsm.sidecar import npz_bytes, read_npz
    from lergan_cc.sim.driver import SimOptions, simulate
    from lergan_cc.sim.fixed import precision_error
    from lergan_cc.sim.loader import check_params, load_program, load_text
    from lergan_cc.sim.report import build_report, summary
    from lergan_cc.sim.trace import trace_json

    timing = bool(args.report or args.trace or args.timing_only)
    opts = SimOptions(args.iterations, args.lr, args.g_loss, args.seed, timing=timing,
                      timing_only=args.timing_only, trace=bool(args.trace), precision=args.precision)
    if args.timing_only:
        program, params = load_text(args.program), {}
    else:
        _keep_freed_memory()
        program, params = load_program(args.program)
        opts.inputs = read_npz(args.inputs) if args.inputs else {}
        params.update(check_params(program, opts.inputs, args.inputs or "", args.program, required=False))
    result = simulate(program, args.program, params, opts, args.inputs or "--inputs", _progress)
    error = precision_error(program, args.program, params, opts, result) if args.precision == "fixed16" else None
    report = build_report(result.timing, result.iterations) if result.timing else None
    if report is not None and error is not None:
        report["precision"] = error
    if args.outputs:
        write_atomic(args.outputs, npz_bytes(_outputs(program.kind, result)))
    if args.report and report is not None:
        write_atomic(args.report, json.dumps(report, indent=1) + "\n")
    if args.trace and result.timing is not None:
        write_atomic(args.trace, trace_json(result.timing.record))
    if not args.timing_only:
        _summary(program.kind, result)
    if report is not None:
        print(summary(report))
    if error is not None:
        print("fixed16 vs float32: " + ", ".join(f"{k}: max rel {v['max_rel']:.3g}, mean rel {v['mean_rel']:.3g}"
                                               for k, v in error["compared"].items()))
    return 0


def _outputs(kind: str, r: SimResult) -> dict[str, np.ndarray]:
    import numpy as np

    if kind != "gan":
        return dict(r.outputs)
    losses = {k: np.asarray(v, dtype=np.float32) for k, v in r.losses.items()}
    return {**r.params, **losses}


def _summary(kind: str, r: SimResult) -> None:
    if kind == "gan":
        n = len(next(iter(r.losses.values()), []))
        for i in range(n):
            print(f"iteration {i + 1}: " + " ".join(f"{k}={v[i]:.6f}" for k, v in sorted(r.losses.items())))
    else:
        for k, v in r.outputs.items():
            print(f"{k}: shape {list(v.shape)} mean {float(v.mean()):.6g} std {float(v.std()):.6g}")
    print(f"simulated in {r.seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    return guarded("lergan-sim", lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())

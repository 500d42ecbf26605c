"""``lergan-sim``: run an FSM program (``PROG.fsm`` + ``PROG.fsm.npz``): the numbers it computes and the
time and energy it takes (``--report``, ``--trace``; ``--timing-only`` skips the arithmetic and reads no
tensor; ``--precision fixed16`` emulates the crossbars' 16-bit fixed point and reports its error)."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from lergan_cc.cli.common import ArgumentParser, guarded
from lergan_cc.errors import LerganError
from lergan_cc.fsm.sidecar import npz_bytes, read_npz
from lergan_cc.limits import float_flag, int_flag
from lergan_cc.outputs import Outputs
from lergan_cc.sim.driver import SimOptions, SimResult, simulate
from lergan_cc.sim.fixed import precision_error
from lergan_cc.sim.loader import check_params, load_program, load_text
from lergan_cc.sim.report import build_report, summary
from lergan_cc.sim.trace import trace_json


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lergan-sim", description="Simulate a LerGAN FSM program.")
    p.add_argument("program", help="PROG.fsm (its tensors are read from PROG.fsm.npz)")
    p.add_argument("--inputs", metavar="IN.npz", help="run-time inputs (and weight overrides) by name")
    p.add_argument("--outputs", metavar="OUT.npz", help="write outputs (inference) or updated weights and losses")
    p.add_argument("--iterations", type=int_flag("--iterations", high=10**12), default=1)
    p.add_argument("--lr", type=float_flag("--lr", high=math.inf), default=0.0002)
    p.add_argument("--timing-only", action="store_true")
    p.add_argument("--precision", choices=("float32", "fixed16"), default="float32")
    p.add_argument("--report", metavar="R.json")
    p.add_argument("--trace", metavar="T.json")
    p.add_argument("--g-loss", choices=("saturating", "nonsaturating"), default="saturating")
    p.add_argument("--seed", type=int_flag("--seed", low=0, high=2**63 - 1), default=0)
    return p


def _check_flags(args: object) -> None:
    if args.timing_only and args.outputs:  # type: ignore[attr-defined]
        raise LerganError("--timing-only computes no tensors: --outputs needs the functional simulation")
    if args.timing_only and args.precision != "float32":  # type: ignore[attr-defined]
        raise LerganError("--timing-only computes no tensors: --precision needs the functional simulation")


def _progress(s: str) -> None:
    """Progress lines for a person watching (a terminal); a log or a pipe gets the results alone."""
    if sys.stderr.isatty():
        print(f"lergan-sim: {s}", file=sys.stderr, flush=True)


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_flags(args)
    with Outputs.of(args, inputs={"inputs": "--inputs"},
                    files={"outputs": "--outputs", "report": "--report", "trace": "--trace"}) as out:
        out.program_input("PROG", args.program)
        _simulate(args, out)
    return 0


def _simulate(args: argparse.Namespace, out: Outputs) -> None:
    timing = bool(args.report or args.trace or args.timing_only)
    opts = SimOptions(args.iterations, args.lr, args.g_loss, args.seed, timing=timing,
                      timing_only=args.timing_only, trace=bool(args.trace), precision=args.precision)
    if args.timing_only:
        program, params = load_text(args.program), {}
    else:
        program, params = load_program(args.program)
        opts.inputs = read_npz(args.inputs) if args.inputs else {}
        params.update(check_params(program, opts.inputs, args.inputs or "", args.program, required=False))
    result = simulate(program, args.program, params, opts, args.inputs or "--inputs", _progress)
    error = precision_error(program, args.program, params, opts, result) if args.precision == "fixed16" else None
    report = build_report(result.timing, result.iterations) if result.timing else None
    if report is not None and error is not None:
        report["precision"] = error
    if args.outputs:
        out.write(args.outputs, npz_bytes(_outputs(program.kind, result)))
    if args.report and report is not None:
        out.write(args.report, json.dumps(report, indent=1) + "\n")
    if args.trace and result.timing is not None:
        out.write(args.trace, trace_json(result.timing.record))
    lines = [] if args.timing_only else _summary(program.kind, result)
    if report is not None:
        lines.append(summary(report))
    if error is not None:
        lines.append("fixed16 vs float32: " + ", ".join(f"{k}: max rel {v['max_rel']:.3g}, mean rel "
                                                        f"{v['mean_rel']:.3g}" for k, v in error["compared"].items()))
    out.write("-", "".join(line + "\n" for line in lines))


def _outputs(kind: str, r: SimResult) -> dict[str, np.ndarray]:
    if kind != "gan":
        return dict(r.outputs)
    losses = {k: np.asarray(v, dtype=np.float32) for k, v in r.losses.items()}
    return {**r.params, **losses}


def _summary(kind: str, r: SimResult) -> list[str]:
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


if __name__ == "__main__":
    raise SystemExit(main())

"""``lergan-sim``: run an FSM program (``PROG.fsm`` + ``PROG.fsm.npz``) on the functional simulator."""

from __future__ import annotations

import sys

import numpy as np

from lergan_cc.cli.common import ArgumentParser, guarded, write_atomic
from lergan_cc.errors import LerganError
from lergan_cc.fsm.sidecar import npz_bytes, read_npz
from lergan_cc.sim.driver import SimOptions, SimResult, simulate
from lergan_cc.sim.loader import check_params, load_program

# Flags of the timing model (issue 6): accepted by the parser, refused until they work.
NOT_YET = {"timing_only": "--timing-only", "report": "--report", "trace": "--trace"}


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


def _refuse_unbuilt(args: object) -> None:
    for attr, flag in NOT_YET.items():
        if getattr(args, attr):
            raise LerganError(f"{flag} is not implemented in this version of lergan-sim")
    if args.precision == "fixed16":
        raise LerganError("--precision fixed16 is not implemented in this version of lergan-sim")


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _refuse_unbuilt(args)
    program, params = load_program(args.program)
    given = read_npz(args.inputs) if args.inputs else {}
    params.update(check_params(program, given, args.inputs or "", args.program, required=False))
    opts = SimOptions(args.iterations, args.lr, args.g_loss, args.seed, given)
    def progress(s):
        return (print(f"lergan-sim: {s}", file=sys.stderr, flush=True))
    result = simulate(program, args.program, params, opts, args.inputs or "--inputs", progress)
    out = _outputs(program.kind, result)
    if args.outputs:
        write_atomic(args.outputs, npz_bytes(out))
    _summary(program.kind, result)
    return 0


def _outputs(kind: str, r: SimResult) -> dict[str, np.ndarray]:
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

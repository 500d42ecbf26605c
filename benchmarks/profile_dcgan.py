"""cProfile's top lines for the two commands issue 15 is about: ``lerganc examples/dcgan.lergan -o x.fsm`` and
the functional DCGAN training iteration at batch 64 (``lergan-sim x.fsm``), in process.

    python benchmarks/profile_dcgan.py [--top 15] [--serial]

cProfile sees only the calling thread: ``--serial`` runs the simulator's GEMMs and copies on it alone (what
the profile then shows is the whole CPU work; py-spy, ``py-spy record --format raw -- lergan-sim x.fsm``,
samples every thread of a normal run). Works with earlier versions of lergan_cc too (no --serial there).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _top(profile: cProfile.Profile, n: int) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, ln in enumerate(lines) if "function calls" in ln)
    return "\n".join(ln.replace(str(ROOT) + "/", "") for ln in lines[start:] if ln.strip()) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--serial", action="store_true", help="the simulator on one thread (cProfile sees it all)")
    args = ap.parse_args()
    from lergan_cc.cli.lerganc import main as lerganc
    from lergan_cc.sim.driver import SimOptions, simulate
    from lergan_cc.sim.loader import load_program

    if args.serial:
        from lergan_cc.sim import workers

        workers.set_workers(1)
    with tempfile.TemporaryDirectory() as tmp:
        fsm = str(Path(tmp) / "dcgan.fsm")
        prof = cProfile.Profile()
        prof.runcall(lerganc, [str(ROOT / "examples" / "dcgan.lergan"), "-o", fsm])
        print("## lerganc examples/dcgan.lergan -o x.fsm (after start-up)\n")
        print(_top(prof, args.top))
        program, params = load_program(fsm)
        prof = cProfile.Profile()
        result = prof.runcall(simulate, program, fsm, params, SimOptions())
        print(f"## functional DCGAN iteration, batch 64 (simulated in {result.seconds:.2f} s)\n")
        print(_top(prof, args.top))


if __name__ == "__main__":
    main()

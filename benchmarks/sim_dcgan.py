"""Time lergan-sim on one DCGAN training iteration at batch 64, beside PyTorch CPU on the same step.

1. ``lerganc examples/dcgan.lergan -o dcgan.fsm`` (zfdr, lergan-3d, replica low, batch 64);
2. ``lergan-sim dcgan.fsm --timing-only --report r.json``: wall time of the whole command, best of N;
3. ``lergan-sim dcgan.fsm``: the functional simulation (its own "simulated in" figure and the wall time);
4. ``benchmarks/sim_torch_dcgan.py``: PyTorch running the same G and D training step.

Usage: python benchmarks/sim_dcgan.py [--runs 3] [--threads N] [--out benchmarks/results/sim_dcgan.md]
``--threads`` pins OpenBLAS (numpy) and torch to N threads; default: their own defaults.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


def _machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sim_dcgan.md"))
    args = ap.parse_args()
    env = dict(os.environ)
    if args.threads:
        env.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        fsm = str(Path(tmp) / "dcgan.fsm")
        subprocess.run(["lerganc", str(ROOT / "examples" / "dcgan.lergan"), "-o", fsm], check=True, env=env)
        timing = min(_wall(["lergan-sim", fsm, "--timing-only", "--report", f"{tmp}/r.json"], env)[0]
                     for _ in range(args.runs))
        wall, out = _wall(["lergan-sim", fsm], env)
        sim = float(re.search(r"simulated in ([0-9.]+) s", out)[1])  # type: ignore[index]
    torch_cmd = [sys.executable, str(ROOT / "benchmarks" / "sim_torch_dcgan.py"), "--runs", str(args.runs)]
    if args.threads:
        torch_cmd += ["--threads", str(args.threads)]
    torch_out = subprocess.run(torch_cmd, check=True, capture_output=True, text=True, env=env).stdout.strip()
    torch_s = float(re.search(r"best ([0-9.]+) s", torch_out)[1])  # type: ignore[index]
    rows = [
        f"machine: {_machine()}; threads: {args.threads or 'library default'}",
        "",
        "| what | seconds |",
        "| --- | --- |",
        f"| `lergan-sim dcgan.fsm --timing-only --report r.json` (wall, best of {args.runs}) | {timing:.2f} |",
        f"| `lergan-sim dcgan.fsm` functional iteration (simulate) | {sim:.2f} |",
        f"| `lergan-sim dcgan.fsm` functional (wall, incl. parse and sidecar) | {wall:.2f} |",
        f"| PyTorch CPU, same G and D step (best of {args.runs}) | {torch_s:.2f} |",
        f"| functional / PyTorch | {sim / torch_s:.2f}x |",
        "",
        f"`{torch_out}`",
    ]
    text = "\n".join(rows) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Issue 15's figures in one sitting: compile wall, sidecar size, start-up, the functional DCGAN iteration
(time, max RSS) beside PyTorch CPU doing the same G+D step, for this installation and optionally another
one (``--base-bin``: the bin directory of an installation of an earlier commit) measured interleaved.

    python benchmarks/fast_tools.py [--runs 3] [--base-bin /path/to/old/venv/bin] [--out FILE.md]

Needs hyperfine (``apt-get install hyperfine``), GNU time (``/usr/bin/time``) and, for the PyTorch
column, ``pip install torch==2.13.0``. Medians of ``--runs`` runs; the load average is printed before
and after (the machine is shared: repeat when it is low). Writes benchmarks/results/fast_tools.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "dcgan.lergan"


def _hyperfine(cmds: list[str], runs: int, tmp: Path) -> list[float]:
    """Median seconds of each command (hyperfine, one warm-up)."""
    out = tmp / "hf.json"
    subprocess.run(["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--export-json", str(out), *cmds],
                   check=True, capture_output=True)
    return [r["median"] for r in json.loads(out.read_text())["results"]]


def _timed(cmd: list[str]) -> dict[str, float]:
    """One run under GNU time: wall, max RSS and the simulator's own "simulated in"."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    assert wall is not None
    seconds = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    sim = re.search(r"simulated in ([\d.]+) s", proc.stdout)
    cpu = 0.0
    for k in ("User", "System"):
        found = re.search(rf"{k} time \(seconds\): ([\d.]+)", proc.stderr)
        cpu += float(found[1]) if found else float("nan")
    return {"wall": seconds, "rss_mb": int(rss[1]) / 1024 if rss else float("nan"),
            "sim": float(sim[1]) if sim else float("nan"), "cpu": cpu}


def _torch(runs: int) -> tuple[float, float]:
    """PyTorch's step: (wall, CPU seconds), medians."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sim_torch_dcgan.py"), "--runs", str(runs)],
                          check=True, capture_output=True, text=True)
    wall = re.search(r"median ([\d.]+) s", proc.stdout)
    cpu = re.search(r"cpu median ([\d.]+) s", proc.stdout)
    return float(wall[1]), float(cpu[1])  # type: ignore[index]


def measure(bins: dict[str, Path], runs: int, tmp: Path, torch: bool
            ) -> tuple[dict[str, dict[str, float]], tuple[float, float] | None]:
    fsm = {name: tmp / f"{name}.fsm" for name in bins}
    for name, b in bins.items():
        subprocess.run([str(b / "lerganc"), str(MODEL), "-o", str(fsm[name])], check=True)
    compile_s = _hyperfine([f"{b / 'lerganc'} {MODEL} -o {tmp / (name + '-hf.fsm')}" for name, b in bins.items()],
                           runs, tmp)
    help_s = _hyperfine([f"{b / 'lergan-sim'} --help" for b in bins.values()], max(runs, 10), tmp)
    sims: dict[str, list[dict[str, float]]] = {name: [] for name in bins}
    torch_s: list[tuple[float, float]] = []
    for _ in range(runs):  # interleaved: the installations and PyTorch see the same load
        for name, b in bins.items():
            sims[name].append(_timed([str(b / "lergan-sim"), str(fsm[name])]))
        if torch:
            torch_s.append(_torch(1))
    out = {}
    for i, name in enumerate(bins):
        out[name] = {"compile": compile_s[i], "help": help_s[i],
                     "sidecar_mb": Path(f"{fsm[name]}.npz").stat().st_size / 1e6,
                     **{k: statistics.median(r[k] for r in sims[name]) for k in ("wall", "rss_mb", "sim", "cpu")}}
    if not torch_s:
        return out, None
    return out, (statistics.median(t[0] for t in torch_s), statistics.median(t[1] for t in torch_s))


def table(res: dict[str, dict[str, float]], torch: tuple[float, float] | None) -> str:
    names = list(res)
    rows = [("functional DCGAN iteration, batch 64: `simulated in` (s)", "sim", "{:.2f}", ""),
            ("the same, whole `lergan-sim` command (s)", "wall", "{:.2f}", ""),
            ("the same, CPU time (user + system, s)", "cpu", "{:.2f}", ""),
            ("functional max RSS (MB)", "rss_mb", "{:.0f}", "< 1024"),
            ("`lerganc examples/dcgan.lergan -o x.fsm` wall (s)", "compile", "{:.2f}", "< 0.5"),
            ("sidecar size (MB)", "sidecar_mb", "{:.1f}", ""),
            ("`lergan-sim --help` wall (s)", "help", "{:.3f}", "")]
    lines = ["| what | " + " | ".join(names) + " | goal |", "| --- |" + " ---: |" * len(names) + " --- |"]
    if torch is not None:
        wall, cpu = torch
        lines.append("| PyTorch CPU, the same G+D step: wall (s) | " + " | ".join(f"{wall:.2f}" for _ in names)
                     + " | |")
        lines.append("| PyTorch CPU, the same step: CPU time (s) | " + " | ".join(f"{cpu:.2f}" for _ in names)
                     + " | |")
        lines.append("| **functional iteration / PyTorch** (wall) | " + " | ".join(
            f"**{res[n]['sim'] / wall:.2f}x**" for n in names) + " | <= 1.0x |")
    for label, key, fmt, goal in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(res[n][key]) for n in names) + f" | {goal} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--base-bin", type=Path, help="bin directory of an earlier installation, measured alongside")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fast_tools.md")
    args = ap.parse_args()
    if shutil.which("hyperfine") is None:
        sys.exit("fast_tools.py: hyperfine is missing (apt-get install hyperfine)")
    here = Path(shutil.which("lergan-sim") or sys.executable).parent
    bins = ({"before": args.base_bin} if args.base_bin else {}) | {"this": here}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        res, torch_s = measure(bins, args.runs, Path(tmp), not args.no_torch)
    load_after = os.getloadavg()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    head = (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; medians of {args.runs} runs; "
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after\n\n")
    text = head + table(res, torch_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

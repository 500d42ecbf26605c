"""Issue 15's benchmark table in one sitting: compile wall, start-up, the functional DCGAN iteration (time,
max RSS) beside PyTorch CPU doing the same G+D step, timing-only runs of every benchmark x design point,
the largest program, and ``lergan-bench`` cold — for this installation and optionally another one
(``--base-bin``: the bin directory of an installation of an earlier commit, with its ``python``),
measured interleaved.

    python benchmarks/fast_tools.py [--runs 3] [--timing-runs 3] [--base-bin DIR] [--no-torch]
                                    [--no-functional] [--no-timing] [--no-bench] [--models a,b]
                                    [--out FILE.md]

Walls are GNU time's (``/usr/bin/time -v``; hyperfine is not on the machine), medians of ``--runs`` runs
after one warm-up, the installations' runs interleaved so that they see the same load; the load average
is printed before and after (the machine is shared: repeat when it is low). The PyTorch column needs
``pip install torch``. Each timing-only run is a whole ``lergan-sim P.fsm --timing-only`` command
(start-up included) on a program the same installation compiled (text only: ``--timing-only`` reads no
tensor), the installations taking turns program by program; the base installation's runs are
``--base-timing-runs`` (default 1: the event-by-event model takes minutes over all programs). Writes
``benchmarks/results/fast_tools.md`` and, per program, ``benchmarks/results/timing_only.csv``.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "dcgan.lergan"
GOAL_TIMING_S = 0.5
T = TypeVar("T")

# Run by each installation's python: compile every benchmark x design point, write the program texts.
COMPILE_ALL = """
import sys
from pathlib import Path
from lergan_cc import api
from lergan_cc.bench.configs import CONFIGS, MODELS, examples_dir
from lergan_cc.bench.runner import FLAG_OPTIONS
from lergan_cc.errors import LerganError
from lergan_cc.options import Options
out = Path(sys.argv[1])
for model in (MODELS if sys.argv[2] == "all" else sys.argv[2].split(",")):
    for config, c in CONFIGS.items():
        f = c.flags
        opts = Options(**{FLAG_OPTIONS[a]: int(b) if b.isdigit() else b for a, b in zip(f[::2], f[1::2])})
        try:
            p = api.compile_program(str(examples_dir() / f"{model}.lergan"), opts, warn=lambda _: None)
        except LerganError as e:
            print(model, config, "error:", e)
            continue
        (out / f"{model}.{config}.fsm").write_text(p.text, encoding="utf-8")
"""

# Run by this installation's python: the FSM reader (line reader, LALR parser) over the programs.
PARSE_ALL = """
import sys, time, json
from pathlib import Path
from lergan_cc.fsm.asm import parse_lalr
from lergan_cc.fsm.lines import parse_lines
lalr, lines = [], []
for f in sorted(Path(sys.argv[1]).glob("*.fsm")):
    text = f.read_text(encoding="utf-8")
    for fn, acc in ((parse_lalr, lalr), (parse_lines, lines)):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter(); p = fn(text); best = min(best, time.perf_counter() - t0)
        acc.append(best)
print(json.dumps({"lalr": lalr, "lines": lines}))
"""


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """One run under GNU time: wall, max RSS, CPU and the simulator's own "simulated in"."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True, env=env)
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


def _walls(cmds: dict[str, list[str]], runs: int, before: Callable[[str], None] = lambda _: None) -> dict[str, float]:
    """Median wall of each command: one warm-up each, then ``runs`` rounds, interleaved; ``before(name)``
    runs untimed before each of them."""
    for k, cmd in cmds.items():
        before(k)
        subprocess.run(cmd, check=True, capture_output=True)
    got: dict[str, list[float]] = {k: [] for k in cmds}
    for r in range(runs):
        for k, cmd in _turns(cmds, r):
            before(k)
            got[k].append(_timed(cmd)["wall"])
    return {k: statistics.median(v) for k, v in got.items()}


def _compile_new(bins: dict[str, Path], runs: int, tmp: Path) -> dict[str, float]:
    """The compile's median wall when ``-o`` names no existing file: the outputs of the run before are removed
    first, untimed (replacing a 144 MB sidecar frees its pages inside the rename: the other compile row)."""
    targets = {n: tmp / f"{n}-new.fsm" for n in bins}

    def remove(name: str) -> None:
        for path in (targets[name], Path(f"{targets[name]}.npz")):
            path.unlink(missing_ok=True)
    return _walls({n: [str(b / "lerganc"), str(MODEL), "-o", str(targets[n])] for n, b in bins.items()}, runs, remove)


def _turns(items: dict[str, T], round_: int) -> list[tuple[str, T]]:
    """The installations in turn, the order reversed every other round: the first after PyTorch's run (or
    after the previous round) ran ~9 % slower in the 05:05 sitting, whichever installation it was."""
    order = list(items.items())
    return order[::-1] if round_ % 2 else order


def _torch(runs: int) -> tuple[float, float]:
    """PyTorch's step: (wall, CPU seconds), medians."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sim_torch_dcgan.py"), "--runs", str(runs)],
                          check=True, capture_output=True, text=True)
    wall = re.search(r"median ([\d.]+) s", proc.stdout)
    cpu = re.search(r"cpu median ([\d.]+) s", proc.stdout)
    assert wall is not None and cpu is not None
    return float(wall[1]), float(cpu[1])


def functional(bins: dict[str, Path], runs: int, tmp: Path, torch: bool,
               iteration: bool) -> dict[str, dict[str, float]]:
    """Compile wall, ``--help``, sidecar size, and the functional iteration (and PyTorch), per installation."""
    fsm = {name: tmp / f"{name}.fsm" for name in bins}
    for name, b in bins.items():
        subprocess.run([str(b / "lerganc"), str(MODEL), "-o", str(fsm[name])], check=True)
    compile_s = _walls({n: [str(b / "lerganc"), str(MODEL), "-o", str(tmp / f"{n}-c.fsm")]
                        for n, b in bins.items()}, runs)
    fresh_s = _compile_new(bins, runs, tmp)
    help_s = _walls({n: [str(b / "lergan-sim"), "--help"] for n, b in bins.items()}, max(runs, 10))
    out = {n: {"compile": compile_s[n], "compile_new": fresh_s[n], "help": help_s[n],
               "sidecar_mb": Path(f"{fsm[n]}.npz").stat().st_size / 1e6} for n in bins}
    if not iteration:
        return out
    sims: dict[str, list[dict[str, float]]] = {name: [] for name in bins}
    torch_s: list[tuple[float, float]] = []
    for r in range(runs):  # interleaved: the installations and PyTorch see the same load
        for name, b in _turns(bins, r):
            sims[name].append(_timed([str(b / "lergan-sim"), str(fsm[name])]))
        if torch:
            torch_s.append(_torch(1))
    for name in bins:
        out[name] |= {k: statistics.median(r[k] for r in sims[name]) for k in ("wall", "rss_mb", "sim", "cpu")}
        if torch_s:
            out[name]["torch_wall"] = statistics.median(t[0] for t in torch_s)
            out[name]["torch_cpu"] = statistics.median(t[1] for t in torch_s)
    return out


def timing_only(bins: dict[str, Path], runs: dict[str, int], tmp: Path, models: str) -> dict[str, dict[str, object]]:
    """Every benchmark x design point: the program (compiled by the same installation) and the wall of
    ``lergan-sim P.fsm --timing-only``, median of the installation's runs. The installations take turns on
    each program (round after round), so that a drift of the host's speed during the minutes the runs take
    moves both columns alike."""
    dirs: dict[str, Path] = {}
    for name, b in bins.items():
        d = dirs[name] = tmp / f"programs-{name}"
        d.mkdir()
        subprocess.run([str(b / "python"), "-P", "-c", COMPILE_ALL, str(d), models], check=True)
    programs = {name: sorted(d.glob("*.fsm")) for name, d in dirs.items()}
    walls: dict[str, dict[str, list[float]]] = {name: {} for name in bins}
    stems = sorted({p.stem for ps in programs.values() for p in ps})
    for stem in stems:
        for r in range(max(runs.values())):
            for name, b in bins.items():
                p = dirs[name] / f"{stem}.fsm"
                if r < runs[name] and p.exists():
                    wall = _timed([str(b / "lergan-sim"), str(p), "--timing-only"])["wall"]
                    walls[name].setdefault(stem, []).append(wall)
    return {name: {"walls": {s: statistics.median(w) for s, w in walls[name].items()},
                   "sizes": {p.stem: p.stat().st_size for p in programs[name]}, "dir": dirs[name]}
            for name in bins}


def bench_cold(bins: dict[str, Path], tmp: Path) -> dict[str, dict[str, object]]:
    """``lergan-bench`` over everything, no cache, 2 workers: wall, and its tables beside the first one's."""
    out: dict[str, dict[str, object]] = {}
    first = None
    for name, b in bins.items():
        d = tmp / f"bench-{name}"
        wall = _timed([str(b / "lergan-bench"), "--out", str(d), "--no-cache", "--jobs", "2"])["wall"]
        same = "" if first is None else ", ".join(
            f"{f}: {'identical' if filecmp.cmp(first / f, d / f, shallow=False) else 'DIFFERENT'}"
            for f in ("tables.md", "results.csv"))
        first = first or d
        out[name] = {"wall": wall, "same": same}
    return out


def table(names: list[str], res: dict[str, dict[str, float]], timing: dict[str, dict[str, object]],
          parse: dict[str, list[float]] | None, bench: dict[str, dict[str, object]]) -> str:
    lines = ["| what | " + " | ".join(names) + " | goal |", "| --- |" + " ---: |" * len(names) + " --- |"]

    def row(label: str, values: list[str], goal: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(values) + f" | {goal} |")

    if res and "torch_wall" in res[names[-1]]:
        row("PyTorch CPU, the same G+D step: wall (s)", [f"{res[n]['torch_wall']:.2f}" for n in names])
        row("**functional iteration / PyTorch** (wall)", [f"**{res[n]['sim'] / res[n]['torch_wall']:.2f}x**"
                                                          for n in names], "<= 1.0x")
    if res and "sim" in res[names[-1]]:
        row("functional DCGAN iteration, batch 64: `simulated in` (s)", [f"{res[n]['sim']:.2f}" for n in names])
        row("the same, CPU time of the whole command (s)", [f"{res[n]['cpu']:.2f}" for n in names])
        row("functional max RSS (MB)", [f"{res[n]['rss_mb']:.0f}" for n in names], "< 1024")
    if res:
        row("`lerganc examples/dcgan.lergan -o x.fsm` wall (s)", [f"{res[n]['compile']:.2f}" for n in names], "< 0.5")
        row("the same, x.fsm not there before (s)", [f"{res[n]['compile_new']:.2f}" for n in names])
        row("sidecar size (MB)", [f"{res[n]['sidecar_mb']:.1f}" for n in names])
        row("`lergan-sim --help` wall (s)", [f"{res[n]['help']:.3f}" for n in names])
    if timing:
        walls = {n: list(timing[n]["walls"].values()) for n in names}  # type: ignore[attr-defined]
        worst = {n: max(timing[n]["walls"].items(), key=lambda kv: kv[1])[0] for n in names}  # type: ignore[attr-defined]
        row(f"`lergan-sim P.fsm --timing-only`, wall incl. start-up, over {len(walls[names[-1]])} programs: max (s)",
            [f"{max(walls[n]):.2f} ({worst[n]})" for n in names], "< 0.5 each")
        row("the same: median (s)", [f"{statistics.median(walls[n]):.2f}" for n in names])
        row("the same: programs over 0.5 s", [str(sum(w > GOAL_TIMING_S for w in walls[n])) for n in names], "0")
        row("the same: sum over all programs (s)", [f"{sum(walls[n]):.1f}" for n in names])
        big = {n: max(timing[n]["sizes"].items(), key=lambda kv: kv[1]) for n in names}  # type: ignore[attr-defined]
        row("largest program of any design point (kB)", [f"{big[n][1] / 1e3:.0f} ({big[n][0]})" for n in names],
            "< 300")
    if parse:
        row("FSM text -> Program, all programs, LALR parser (s)", [f"{sum(parse['lalr']):.2f}" for _ in names])
        row("the same, the line reader (s)", [f"{sum(parse['lines']):.2f}" for _ in names])
    if bench:
        row("`lergan-bench` cold, all benchmarks x design points, 2 workers (s)",
            [f"{bench[n]['wall']:.1f}" for n in names], "< 60")
        same = [str(bench[n]["same"]) for n in names if bench[n]["same"]]
        if same:
            lines.append(f"\n`lergan-bench` outputs against the first column's: {'; '.join(same)}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timing-runs", type=int, default=3, help="runs per program of this installation")
    ap.add_argument("--base-timing-runs", type=int, default=1, help="runs per program of the base installation")
    ap.add_argument("--base-bin", type=Path, help="bin directory of an earlier installation, measured alongside")
    ap.add_argument("--models", default="all", help="the timing-only runs' benchmarks (comma-separated)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-functional", action="store_true", help="skip the functional iteration")
    ap.add_argument("--no-timing", action="store_true", help="skip the timing-only runs")
    ap.add_argument("--no-bench", action="store_true", help="skip lergan-bench cold")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fast_tools.md")
    args = ap.parse_args()
    here = Path(shutil.which("lergan-sim") or sys.executable).parent
    bins = ({"before": args.base_bin} if args.base_bin else {}) | {"this": here}
    names = list(bins)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        res = functional(bins, args.runs, tmp, not args.no_torch, not args.no_functional)
        timing: dict[str, dict[str, object]] = {}
        parse = None
        if not args.no_timing:
            timing = timing_only(bins, {"before": args.base_timing_runs, "this": args.timing_runs}, tmp, args.models)
            proc = subprocess.run([str(here / "python"), "-P", "-c", PARSE_ALL, str(timing["this"]["dir"])], check=True,
                                  capture_output=True, text=True)
            parse = __import__("json").loads(proc.stdout)
            with (args.out.parent / "timing_only.csv").open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["program", *(f"{n}_wall_s" for n in names), *(f"{n}_bytes" for n in names)])
                for p in timing["this"]["walls"]:  # type: ignore[attr-defined]
                    w.writerow([p, *(f"{timing[n]['walls'].get(p, float('nan')):.3f}" for n in names),  # type: ignore[attr-defined]
                                *(timing[n]["sizes"].get(p, "") for n in names)])  # type: ignore[attr-defined]
        bench = {} if args.no_bench else bench_cold(bins, tmp)
    load_after = os.getloadavg()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    head = (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; medians of {args.runs} runs "
            f"({args.timing_runs} per timing-only program; {args.base_timing_runs} for the base installation); "
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after\n\n")
    text = head + table(names, res, timing, parse, bench)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""docs/scale.md's measurements: one sweep run cold (``--no-cache``) by every executor, in rounds.

    python benchmarks/scale.py [SWEEP.toml] [--rounds 3] [--out DIR] [--wait-load 1.0 [--patience 1200]]

Per round and in a rotating order: the local pool of 2 and of 1 process, Dask on a LocalCluster of 2
and of 1 worker. Each run is the whole ``lergan-bench`` command (start-up, cluster start and outputs
included), timed from outside, with the CPU seconds of its whole process tree; the 1-minute load
average is read before each run because the machine is shared. Prints a markdown table of medians,
the speedups, and whether every run's sweep.csv is the same bytes. Needs the [dask] extra.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

RUNS = {"local, 1 process": ["--jobs", "1"], "local, 2 processes": ["--jobs", "2"],
        "dask LocalCluster, 1 worker": ["--executor", "dask", "--jobs", "1"],
        "dask LocalCluster, 2 workers": ["--executor", "dask", "--jobs", "2"]}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process the run started, once reaped
    return r.ru_utime + r.ru_stime


def quiet(below: float | None, patience_s: float = 1200) -> None:
    """Wait (up to ``patience_s``) until the 1-minute load average is under ``below``: the machine is shared."""
    deadline = time.monotonic() + patience_s
    while below is not None and os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)


def one(sweep: str, out: Path, args: list[str]) -> tuple[float, float, float, dict]:
    """Wall seconds, CPU seconds of the whole process tree, the 1-minute load before, and sweep.json's meta."""
    load, cpu = os.getloadavg()[0], _cpu()
    start = time.perf_counter()
    proc = subprocess.run(["lergan-bench", "--sweep", sweep, "--no-cache", "--no-plots", "--out", str(out), *args],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return wall, _cpu() - cpu, load, json.loads((out / "sweep.json").read_text())["meta"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("sweep", nargs="?", default="benchmarks/sweeps/scale.toml")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    p.add_argument("--wait-load", type=float, default=None, metavar="L",
                   help="before each run, wait until the 1-minute load average is below L ...")
    p.add_argument("--patience", type=float, default=1200, metavar="S", help="... but at most S seconds")
    a = p.parse_args()
    root = Path(a.out or tempfile.mkdtemp(prefix="lergan-scale-"))
    walls: dict[str, list[float]] = {n: [] for n in RUNS}
    cpus: dict[str, list[float]] = {n: [] for n in RUNS}
    loads: dict[str, list[float]] = {n: [] for n in RUNS}
    csvs: set[bytes] = set()
    runs = 0
    names = list(RUNS)
    for r in range(a.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out = root / f"r{r}-{name.replace(' ', '_').replace(',', '')}"
            quiet(a.wait_load, a.patience)
            wall, cpu, load, meta = one(a.sweep, out, RUNS[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
            loads[name].append(load)
            runs = meta["runs"]["distinct"]
            csvs.add((out / "sweep.csv").read_bytes())
            print(f"round {r} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {load:.2f})", flush=True)
    serial = statistics.median(walls["local, 1 process"])
    dask1 = statistics.median(walls["dask LocalCluster, 1 worker"])
    print(f"\n{runs} runs, {a.rounds} rounds, sweep.csv identical across all {sum(map(len, walls.values()))} "
          f"runs: {'yes' if len(csvs) == 1 else 'NO'}\n")
    print("| executor | median wall (s) | runs/s | speedup over local, 1 | over dask, 1 worker | CPU (s) | "
          "load (1-min) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in RUNS:
        w = statistics.median(walls[name])
        print(f"| {name} | {w:.1f} | {runs / w:.2f} | {serial / w:.2f}× | {dask1 / w:.2f}× | "
              f"{statistics.median(cpus[name]):.1f} | {min(loads[name]):.2f}–{max(loads[name]):.2f} |")
    print(f"\nwalls: {json.dumps({k: [round(x, 1) for x in v] for k, v in walls.items()})}")
    print(f"CPU: {json.dumps({k: [round(x, 1) for x in v] for k, v in cpus.items()})}")
    print(f"loads: {json.dumps({k: [round(x, 2) for x in v] for k, v in loads.items()})}")
    print(f"last meta run_seconds: {json.dumps(meta.get('run_seconds'))}")


if __name__ == "__main__":
    main()

"""What a timing-only run spends per program, and what issue 15's 0.5 s goal leaves for the timing model.

    python benchmarks/timing_budget.py DIR [--start-up S] [--goal 0.5] [--out FILE.csv]

For every ``DIR/*.fsm`` (``benchmarks/timing_all.py --out DIR`` writes the 144 benchmark x design-point
programs), in one process: the line reader, the check, the timing model, the summary of its rows and the
report, each timed once, and the model's rows (one per task). The start-up of a command (interpreter and
imports) is measured as ``lergan-sim``'s imports in a fresh interpreter unless ``--start-up`` gives it.
Per program it prints the model's microseconds per row and, for a program over the goal, the
microseconds per row the goal leaves once start-up, parsing and the report are paid (0 when they alone
exceed it); then the medians.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPORTS = ("import time; t = time.perf_counter(); import lergan_cc.cli.lergan_sim, lergan_cc.api, "
           "lergan_cc.sim.driver, lergan_cc.sim.report, lergan_cc.fsm.check; print(time.perf_counter() - t)")


def start_up() -> float:
    """A fresh interpreter's start and the imports of a timing-only run (median of 5)."""
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def phases(path: Path) -> dict[str, float]:
    from lergan_cc.fsm.check import check_program
    from lergan_cc.fsm.lines import parse_lines
    from lergan_cc.sim import driver
    from lergan_cc.sim.report import build_report, summary

    marks = [time.perf_counter()]
    program = parse_lines(path.read_text(encoding="utf-8"))
    marks.append(time.perf_counter())
    check_program(program, str(path))
    marks.append(time.perf_counter())
    result = driver.time_only(program, str(path), driver.SimOptions())
    marks.append(time.perf_counter())
    record = result.timing.record
    marks.append(time.perf_counter())
    summary(build_report(result.timing, result.iterations))
    marks.append(time.perf_counter())
    names = ("parse", "check", "model", "summary", "report")
    out = {name: b - a for name, a, b in zip(names, marks, marks[1:], strict=False)}
    out["rows"] = float(len(record.t["key"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--start-up", type=float, help="seconds of start-up and imports (default: measured)")
    ap.add_argument("--goal", type=float, default=0.5)
    ap.add_argument("--out", type=Path, help="also write the figures as CSV")
    args = ap.parse_args()
    fixed = args.start_up if args.start_up is not None else start_up()
    print(f"start-up and imports: {fixed:.3f} s")
    rows_out, per_row, allowed = [], [], []
    for path in sorted(args.dir.glob("*.fsm")):
        f = phases(path)
        total = fixed + f["parse"] + f["check"] + f["model"] + f["summary"] + f["report"]
        us = f["model"] / max(f["rows"], 1) * 1e6
        left = args.goal - (total - f["model"])
        budget = max(left, 0.0) / max(f["rows"], 1) * 1e6 if total > args.goal else float("nan")
        per_row.append(us)
        if total > args.goal:
            allowed.append(budget)
        rows_out.append({"program": path.stem, **{k: round(v, 4) for k, v in f.items()}, "total_s": round(total, 3),
                         "model_us_per_row": round(us, 2), "goal_us_per_row": round(budget, 2)})
        print(f"{path.stem:40s} rows {int(f['rows']):7d}  model {f['model']:.3f} s ({us:5.1f} us/row)  "
              f"total {total:.3f} s" + (f"  goal leaves {budget:4.1f} us/row" if total > args.goal else ""))
    print(f"{len(rows_out)} programs, {len(allowed)} over {args.goal} s; model us/row median "
          f"{statistics.median(per_row):.1f}; over the goal, the goal leaves a median "
          f"{statistics.median(allowed) if allowed else float('nan'):.1f} us/row, "
          f"{sum(1 for a in allowed if a == 0)} programs none")
    if args.out:
        with args.out.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows_out[0]))
            w.writeheader()
            w.writerows(rows_out)


if __name__ == "__main__":
    main()

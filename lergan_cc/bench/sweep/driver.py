"""``lergan-bench --sweep``: read and check the sweep file, derive every point's hardware, run
(point × model × design point) through an executor and the cache, write the rows, fronts and figures.

Nothing runs and nothing is written until every point has been derived and validated.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lergan_cc.bench import cache, configs, executors, task
from lergan_cc.bench.sweep import outputs, points, spec
from lergan_cc.cli.common import write_atomic


def plan(sweep: spec.Sweep, design: points.Design, functional: bool
         ) -> dict[tuple[int, str, str], task.Task]:
    """A task per (point, model, design point)."""
    return {(p.index, m.name, c): task.make(m, c, configs.CONFIGS[c].flags, sweep.batch, functional, p.hw_text,
                                            label=f"{m.name} {c} point {p.index}")
            for p in design.points for m in sweep.models for c in sweep.configs}


def run(path: str, base_hw: str | None, batch: int | None, functional: bool, executor: tuple[str, int, str | None],
        store: cache.Cache, out: Path, plots: bool) -> int:
    sweep = spec.load(path, base_hw)
    if batch is not None:
        sweep = dataclasses.replace(sweep, batch=batch)
    design = points.design(sweep)
    start = time.perf_counter()
    tasks = plan(sweep, design, functional)
    by_key, counts = executors.run(list(tasks.values()), store, *executor, keep=outputs.essentials)
    records = {k: by_key[t.key] for k, t in tasks.items()}
    rows = outputs.make_rows(sweep, design, records)
    wall = time.perf_counter() - start
    summary = (f"{len(rows)} runs: {len(design.points)} hardware points × {len(sweep.models)} models × "
               f"{len(sweep.configs)} design points ({counts.total} distinct, {counts.cached} from the cache), "
               f"{sum(bool(r['error']) for r in rows)} failed, {wall:.1f} s")
    meta = _meta(sweep, design, executor, counts, wall, functional)
    meta["run_seconds"] = _seconds(list(by_key.values()))
    write(out, sweep, design, rows, meta, summary, plots)
    print(f"lergan-bench: {summary}; results in {out}/", file=sys.stderr)
    return 1 if any(r["error"] for r in rows) else 0


def write(out: Path, sweep: spec.Sweep, design: points.Design, rows: list[outputs.Row], meta: dict[str, Any],
          summary: str, plots: bool) -> None:
    """sweep.csv, sweep.json, sweep.md, hw/<id>.toml (each point's hardware) and the PNGs into ``out``."""
    fronts = outputs.fronts(rows)
    (out / "hw").mkdir(parents=True, exist_ok=True)
    for p in design.points:
        write_atomic(str(out / "hw" / f"{p.hw_id}.toml"), p.hw_text)
    write_atomic(str(out / "sweep.csv"), outputs.to_csv(sweep, rows))
    write_atomic(str(out / "sweep.json"), outputs.to_json(meta, rows, fronts))
    write_atomic(str(out / "sweep.md"), outputs.markdown(sweep, design, rows, fronts, summary))
    if plots:
        from lergan_cc.bench.sweep import plots as plot_mod

        for name, png in plot_mod.figures(sweep, design, rows, fronts).items():
            write_atomic(str(out / name), png)


def _seconds(records: list[dict[str, Any]]) -> dict[str, float] | None:
    """Compute time of one run (as measured where and when it ran, cached runs included): what a
    projection to N workers multiplies."""
    xs = sorted(r["seconds"] for r in records if isinstance(r.get("seconds"), (int, float)))
    if not xs:
        return None
    return {"runs": len(xs), "sum": round(sum(xs), 2), "mean": round(statistics.fmean(xs), 3),
            "median": round(statistics.median(xs), 3), "max": round(xs[-1], 3)}


def _meta(sweep: spec.Sweep, design: points.Design, executor: tuple[str, int, str | None], counts: Any,
          wall: float, functional: bool) -> dict[str, Any]:
    computed = counts.done - counts.cached
    return {"sweep": sweep.path, "sampling": sweep.sampling, "samples": sweep.samples, "seed": sweep.seed,
            "batch": sweep.batch, "timing_only": not functional, "base_hw": sweep.hw,
            "models": [m.name for m in sweep.models],
            "configs": {c: list(configs.CONFIGS[c].flags) for c in sweep.configs},
            "params": {p.name: {"values": list(p.values), **({"log" if p.log else "lin": [p.low, p.high]}
                                                             if p.is_range else {})} for p in sweep.params},
            "defaults": design.defaults, "hardware_points": len(design.points), "source": cache.source_digest(),
            "executor": {"name": executor[0], "workers": executor[1], "scheduler": executor[2]},
            "runs": {"distinct": counts.total, "cached": counts.cached, "computed": computed, "failed": counts.failed},
            "wall_s": round(wall, 2), "points_per_s": round(computed / wall, 3) if computed and wall else None,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}

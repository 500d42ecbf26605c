"""``lergan-bench --sweep``: read and check the sweep file, derive every point's hardware, run
(point × model × design point) through an executor and the cache, and make the rows, fronts and
figures (the command line writes them).

Nothing runs until every point has been derived and validated.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from typing import Any

from lergan_cc.bench import cache, configs, executors, task
from lergan_cc.bench.sweep import outputs, points, spec


def plan(sweep: spec.Sweep, design: points.Design, functional: bool
         ) -> dict[tuple[int, str, str], task.Task]:
    """A task per (point, model, design point)."""
    return {(p.index, m.name, c): task.make(m, c, configs.CONFIGS[c].flags, sweep.batch, functional, p.hw_text,
                                            label=f"{m.name} {c} point {p.index}")
            for p in design.points for m in sweep.models for c in sweep.configs}


@dataclasses.dataclass
class Outcome:
    sweep: spec.Sweep
    design: points.Design
    rows: list[outputs.Row]
    meta: dict[str, Any]
    summary: str

    @property
    def failed(self) -> int:
        return sum(bool(r["error"]) for r in self.rows)


def run(path: str, base_hw: str | None, batch: int | None, functional: bool, executor: tuple[str, int, str | None],
        store: cache.Cache) -> Outcome:
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
    return Outcome(sweep, design, rows, meta, summary)


def files(outcome: Outcome, plots: bool) -> dict[str, str | bytes]:
    """Output file (relative path) -> content: sweep.csv, sweep.json, sweep.md, hw/<id>.toml (each point's
    hardware) and the PNGs."""
    sweep, design, rows = outcome.sweep, outcome.design, outcome.rows
    fronts = outputs.fronts(rows)
    out: dict[str, str | bytes] = {f"hw/{p.hw_id}.toml": p.hw_text for p in design.points}
    out["sweep.csv"] = outputs.to_csv(sweep, rows)
    out["sweep.json"] = outputs.to_json(outcome.meta, rows, fronts)
    out["sweep.md"] = outputs.markdown(sweep, design, rows, fronts, outcome.summary)
    if plots:
        from lergan_cc.bench.sweep import plots as plot_mod

        out.update(plot_mod.figures(sweep, design, rows, fronts))
    return out


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

"""A sweep's results as rows (``sweep.csv``, ``sweep.json``), Pareto fronts and the sensitivity study
(``sweep.md``). Rows hold only what the simulations decide — no wall times — so the same sweep gives
the same bytes whichever executor ran it, or the cache."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from lergan_cc.bench.sweep import pareto
from lergan_cc.bench.sweep.points import SENSITIVITY, Design
from lergan_cc.bench.sweep.spec import Sweep

OBJECTIVES = ("time_ns", "energy_pj", "crossbars_used")
RESULT_FIELDS = ("hw", *OBJECTIVES, "tiles_used", "error")
Row = dict[str, Any]


def essentials(record: dict[str, Any]) -> dict[str, Any]:
    """What the rows and the run-time summary read from a record (the cache keeps the whole report)."""
    report = record.get("report") or {}
    kept: dict[str, Any] = {k: record[k] for k in ("ok", "error", "crossbars_used", "tiles_used", "seconds")
                            if k in record}
    return {**kept, "report": {k: report.get(k) for k in ("time_ns", "energy_pj")}}


def make_rows(sweep: Sweep, design: Design, records: dict[tuple[int, str, str], dict[str, Any]]) -> list[Row]:
    """One row per (point, model, design point): the swept values, the hardware file, the results."""
    rows = []
    for p in design.points:
        for m in sweep.models:
            for c in sweep.configs:
                record = records[(p.index, m.name, c)]
                report = record.get("report") or {}
                rows.append({"point": p.index, "role": "+".join(p.roles), "model": m.name, "config": c, **p.values,
                             "hw": p.hw_id, "time_ns": report.get("time_ns"), "energy_pj": report.get("energy_pj"),
                             "crossbars_used": record.get("crossbars_used"), "tiles_used": record.get("tiles_used"),
                             "error": None if record.get("ok") else record.get("error")})
    return rows


def columns(sweep: Sweep) -> list[str]:
    return ["point", "role", "model", "config", *(p.name for p in sweep.params), *RESULT_FIELDS]


def _cell(value: Any) -> Any:
    return "/".join(value) if isinstance(value, tuple) else value


def to_csv(sweep: Sweep, rows: list[Row]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns(sweep), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns(sweep)})
    return out.getvalue()


def to_json(meta: dict[str, Any], rows: list[Row], fronts: dict[str, list[Row]]) -> str:
    front_ids = {m: [(r["point"], r["config"]) for r in rs] for m, rs in fronts.items()}
    return json.dumps({"meta": meta, "results": rows, "pareto": front_ids}, indent=1) + "\n"


# ---- Pareto fronts -------------------------------------------------------------------------------

def fronts(rows: list[Row]) -> dict[str, list[Row]]:
    """Per model: the rows no other row of the model beats on time, energy and crossbars, by time."""
    out: dict[str, list[Row]] = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        ok = [r for r in rows if r["model"] == model and all(r.get(k) is not None for k in OBJECTIVES)]
        kept = [ok[i] for i in pareto.front([[float(r[k]) for k in OBJECTIVES] for r in ok])]
        out[model] = sorted(kept, key=lambda r: (r["time_ns"], r["energy_pj"], r["crossbars_used"], r["point"]))
    return out


def _num(v: float | None, scale: float = 1.0) -> str:
    return "—" if v is None else f"{v / scale:.4g}"


def _value(v: Any) -> str:
    return "/".join(v) if isinstance(v, tuple) else f"{v:g}" if isinstance(v, float) else str(v)


def front_table(sweep: Sweep, rows: list[Row]) -> str:
    names = [p.name for p in sweep.params]
    head = "| point | config | " + "".join(f"`{n}` | " for n in names) + "time (ms) | energy (mJ) | crossbars |\n"
    head += "| ---: | --- |" + " ---: |" * (len(names) + 3) + "\n"
    body = "".join(f"| {r['point']} | {r['config']} | " + "".join(f"{_value(r[n])} | " for n in names)
                   + f"{_num(r['time_ns'], 1e6)} | {_num(r['energy_pj'], 1e9)} | {r['crossbars_used']} |\n"
                   for r in rows)
    return head + body


# ---- one parameter at a time ---------------------------------------------------------------------

Series = list[tuple[Any, float | None, float | None]]  # (value, time ratio, energy ratio)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def sensitivity(design: Design, rows: list[Row], model: str, config: str) -> dict[str, Series]:
    """For each parameter: its values with time and energy relative to the default hardware's."""
    if design.default_point is None:
        return {}
    by_point = {r["point"]: r for r in rows if r["model"] == model and r["config"] == config}
    ref = by_point[design.default_point]
    out = {}
    for name, indices in design.one_at_a_time.items():
        series = [(by_point[i][name], _ratio(by_point[i]["time_ns"], ref["time_ns"]),
                   _ratio(by_point[i]["energy_pj"], ref["energy_pj"])) for i in indices]
        out[name] = sorted(series, key=lambda s: s[0]) if all(isinstance(s[0], (int, float)) for s in series) \
            else series
    return out


def sensitivity_table(sweep: Sweep, design: Design, rows: list[Row]) -> str:
    head = ("| parameter (default) | model | config | values | time × default | energy × default |\n"
            "| --- | --- | --- | --- | --- | --- |\n")
    body = []
    for p in sweep.params:
        for m in sweep.models:
            for c in sweep.configs:
                s = sensitivity(design, rows, m.name, c).get(p.name, [])
                if not s:
                    continue
                span = f"{_value(s[0][0])} → {_value(s[-1][0])}"
                body.append(f"| `{p.name}` ({_value(design.defaults[p.name])}) | {m.name} | {c} | {span} | "
                            f"{_num(s[0][1])} → {_num(s[-1][1])} | {_num(s[0][2])} → {_num(s[-1][2])} |\n")
    return head + "".join(body)


def markdown(sweep: Sweep, design: Design, rows: list[Row], front_rows: dict[str, list[Row]],
             summary: str) -> str:
    parts = [f"# lergan-bench sweep: `{sweep.path}`\n", summary + "\n"]
    for model, rs in front_rows.items():
        parts += [f"## Pareto front of {model}: time, energy and crossbars used, all minimised "
                  f"({len(rs)} of {sum(r['model'] == model for r in rows)} runs)\n", front_table(sweep, rs)]
    if sweep.sensitivity and any(SENSITIVITY in p.roles for p in design.points) and sweep.params:
        parts += ["## Sensitivity: one parameter at a time, the others at their default; time and energy "
                  "relative to the default hardware, at the lowest and the highest value\n",
                  sensitivity_table(sweep, design, rows)]
    failed = [r for r in rows if r["error"]]
    if failed:
        parts += [f"## Failed runs ({len(failed)})\n",
                  "".join(f"- point {r['point']} {r['model']} {r['config']}: {r['error']}\n" for r in failed)]
    return "\n".join(parts)

"""From run records to result rows: speedups and energy savings over PRIME, per run and per phase.

``speedup_vs_prime`` = t(prime) / t(config) and ``energy_saving_vs_prime`` = E(prime) / E(config) for
the same model, where PRIME is ``prime-dp`` for the whole-machine (``-dp``) points: both designs then use
as many copies as their banks hold. ``speedup_vs_serial`` = t(point without ``-dp``) / t(point): what the
whole machine gains over one copy of each matrix. The paper's "normalized space" (NS) gives PRIME the
CArray space of the design point. Our compiler replicates nothing under normal reshaping (Eq. 14 needs a
ZFDM part), so PRIME cannot be simulated at a larger size; NS is a normalization instead: PRIME is assumed to speed up
linearly with crossbars, ``speedup_vs_prime_ns = speedup_vs_prime / space_vs_prime`` where
``space_vs_prime`` = crossbars(config) / crossbars(prime). That is PRIME's best case, so the NS
speedup is a lower bound. Energy has no NS form (the same work on more crossbars costs the same).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Sequence
from typing import Any

from lergan_cc.bench.configs import MODELS, REFERENCES, baseline_of, serial_of

CSV_FIELDS = ("model", "config", "time_ns", "energy_pj", "speedup_vs_prime", "energy_saving_vs_prime",
              "speedup_vs_prime_ns", "space_vs_prime", "speedup_vs_gpu", "energy_saving_vs_gpu",
              "speedup_vs_fpga", "energy_saving_vs_fpga", "speedup_vs_serial", "crossbars_used", "error")


def phase_value(entry: Any, what: str) -> float | None:
    """``time`` or ``energy`` of a report's phase entry (``{"time_ns":…, "energy_pj":…}``)."""
    if not isinstance(entry, dict):
        return None
    for k, v in entry.items():
        if k.startswith(what) and isinstance(v, int | float):
            return float(v)
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def make_row(record: dict[str, Any]) -> dict[str, Any]:
    """The scalar and per-phase fields of one run, before comparisons."""
    report = record.get("report") or {}
    row: dict[str, Any] = {"model": record["model"], "config": record["config"],
                           "label": MODELS.get(record["model"], record["model"]),
                           "time_ns": report.get("time_ns"), "energy_pj": report.get("energy_pj"),
                           "crossbars_used": record.get("crossbars_used"), "flags": record.get("flags"),
                           "crossbars_by_phase": record.get("crossbars_by_phase") or {}}
    row["phases"] = {p: {"time_ns": phase_value(e, "time"), "energy_pj": phase_value(e, "energy")}
                     for p, e in (report.get("phases") or {}).items()}
    for k in ("energy_breakdown", "traffic", "utilization"):
        row[k] = report.get(k)
    row["tile_energy"] = tile_energy(report)
    row["compile_s"], row["simulate_s"] = record.get("compile_s"), record.get("simulate_s")
    if not record.get("ok", False):
        row["error"] = record.get("error")
    return row


def tile_energy(report: dict[str, Any]) -> dict[str, float] | None:
    """A tile's energy by part (Fig. 24): the report's MMV parts plus cell writes and buffers, if it has them."""
    parts = report.get("compute_breakdown")
    if not isinstance(parts, dict):
        return None
    eb = report.get("energy_breakdown") or {}
    return {**parts, **{k: eb[k] for k in ("cell_writes", "buffers") if k in eb}}


def compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the speedups, energy savings and spaces relative to PRIME to every row, total and per phase,
    and the speedups and energy savings relative to each non-PIM baseline (``speedup_vs_gpu``, …)."""
    by = {(r["model"], r["config"]): r for r in rows}
    for r in rows:
        for name, suffix in REFERENCES.items():
            ref = by.get((r["model"], name), {})
            r[f"speedup_vs_{suffix}"] = _ratio(ref.get("time_ns"), r["time_ns"])
            r[f"energy_saving_vs_{suffix}"] = _ratio(ref.get("energy_pj"), r["energy_pj"])
        base = by.get((r["model"], baseline_of(r["config"])), {})
        serial = serial_of(r["config"])
        r["speedup_vs_serial"] = _ratio(by.get((r["model"], serial), {}).get("time_ns"), r["time_ns"]) \
            if serial else None
        r["speedup_vs_prime"] = _ratio(base.get("time_ns"), r["time_ns"])
        r["energy_saving_vs_prime"] = _ratio(base.get("energy_pj"), r["energy_pj"])
        r["space_vs_prime"] = _ratio(r.get("crossbars_used"), base.get("crossbars_used"))
        r["speedup_vs_prime_ns"] = _ratio(r["speedup_vs_prime"], r["space_vs_prime"])
        r["phase_speedup_vs_prime"] = {p: phase_ratio(base, r, p, "time_ns") for p in r["phases"]}
        r["phase_energy_saving_vs_prime"] = {p: phase_ratio(base, r, p, "energy_pj") for p in r["phases"]}
        r["phase_space_vs_prime"] = {p: _ratio(r["crossbars_by_phase"].get(p), base.get("crossbars_by_phase",
                                                                                         {}).get(p))
                                     for p in r["phases"]}
    return rows


def phase_ratio(base: dict[str, Any], row: dict[str, Any], phase: str, field: str) -> float | None:
    """``field`` of ``phase`` in the baseline over the same in ``row``."""
    return _ratio(base.get("phases", {}).get(phase, {}).get(field), row.get("phases", {}).get(phase, {}).get(field))


def mean(values: Sequence[float | None]) -> float | None:
    """Arithmetic mean over the values present (the paper's "on average")."""
    xs = [v for v in values if v is not None]
    return statistics.fmean(xs) if xs else None


def to_json(rows: list[dict[str, Any]], meta: dict[str, Any], **extra: Any) -> str:
    """``{"meta":…, "results":[row…], <extra>…}``."""
    return json.dumps({"meta": meta, "results": rows, **extra}, indent=1) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in CSV_FIELDS})
    return out.getvalue()


def sarray_row(record: dict[str, Any]) -> dict[str, Any]:
    """SArray space ZFDR saves on one model, from ``lerganc --emit analysis``: zero-inserted / useful inputs.

    ``g_fwd`` is the paper's DCGAN definition (the generator's forward T-CONVs, 5.2×);
    ``zfdr_phases`` covers every layer ZFDR reshapes; ``all_phases`` every layer of the iteration.
    """
    a = record.get("analysis") or {}
    totals = a.get("totals", {})
    zfdr = [x for x in a.get("layers", []) if x.get("interface", "none") != "none"]
    return {"model": record["model"],
            "g_fwd": totals.get("phases", {}).get("G_fwd", {}).get("input_ratio"),
            "zfdr_phases": _ratio(sum(x["zero_inserted_inputs"] for x in zfdr) or None,
                                  sum(x["useful_inputs"] for x in zfdr)),
            "all_phases": totals.get("input_ratio")}

"""The ``--report`` JSON (DESIGN §8 fields and more) and the summary table printed on stdout."""

from __future__ import annotations

from typing import Any

from lergan_cc.sim.costs import BREAKDOWN, MMV_PARTS
from lergan_cc.sim.record import Group, Recorder, union_length
from lergan_cc.sim.timing import Timing
from lergan_cc.sim.timing_fast import FastTiming
from lergan_cc.targets.geometry import LINK_KINDS

INIT_STATE = "init"


def _traffic(g: Group) -> dict[str, float]:
    return {k: float(g.traffic.get(k, 0.0)) for k in LINK_KINDS}


def _layer(key: tuple[str, str], g: Group) -> dict[str, Any]:
    t = g.time_ns
    xbars = sum(g.crossbars.values())
    return {"layer": key[0], "phase": key[1], "time_ns": t, "energy_pj": g.energy_pj, "mmv_rounds": g.mmv_rounds,
            "mmv_rounds_total": g.rounds_total, "crossbars": xbars,
            "crossbar_utilization": g.xbar_ns / (xbars * t) if xbars and t else 0.0,
            "instructions": g.count, "traffic": _traffic(g)}


def breakdown(energy: dict[str, float]) -> dict[str, float]:
    return {cat: float(sum(energy.get(p, 0.0) for p in parts)) for cat, parts in BREAKDOWN.items()}


def build_report(timing: Timing | FastTiming, iterations: int) -> dict[str, Any]:
    rec: Recorder = timing.record
    p = timing.program
    end = max((e for _, _, e in rec.states), default=0.0)
    init = [(s, e) for n, s, e in rec.states if n == INIT_STATE]
    init_ns = sum(e - s for s, e in init)
    init_pj = sum(g.energy_pj for (layer, _), g in rec.layers.items() if layer == INIT_STATE)
    energy = float(rec.total.energy_pj)
    copies = timing.ctx.layout.copies
    available = timing.hw.banks * timing.hw.crossbars_per_bank
    xbars_used = sum(timing.ctx.crossbars(d) * copies[n].count for n, d in timing.ctx.matrices.items())
    busy_by_class = rec.busy_by_class()
    return {
        "model": p.model, "kind": p.kind, "batch": p.batch, "batch_from": str(p.attrs.get("batch_from", "option")),
        "iterations": iterations,
        "zero_free": str(p.attrs.get("zero_free", "")), "target": str(p.attrs.get("target", "")),
        "replica": str(p.attrs.get("replica", "")),
        "time_ns": end, "energy_pj": energy,
        "init_ns": init_ns, "init_energy_pj": init_pj,
        "iteration_ns": (end - init_ns) / max(iterations, 1),
        "iteration_energy_pj": (energy - init_pj) / max(iterations, 1),
        "per_iteration_ns": (end - init_ns) / max(iterations, 1),  # DESIGN §8's name: the mean of the iterations
        "per_iteration_energy_pj": (energy - init_pj) / max(iterations, 1),
        "phases": {ph: {"time_ns": g.time_ns, "energy_pj": g.energy_pj, "mmv_rounds_total": g.rounds_total}
                   for ph, g in sorted(rec.phases.items())},
        "layers": [_layer(k, g) for k, g in rec.layers.items()],
        "energy_breakdown": breakdown(rec.total.energy),
        "compute_breakdown": {k: float(rec.total.energy.get(k, 0.0)) for k in (*MMV_PARTS, "alu")},
        "classes": {op: {"count": g.count, "time_ns": g.time_ns, "energy_pj": g.energy_pj}
                    for op, g in sorted(rec.classes.items())},
        "utilization": {
            "crossbars_used": xbars_used,
            "crossbars_available": available,
            "crossbar_busy": rec.total.xbar_ns / (xbars_used * end) if xbars_used and end else 0.0,
            "crossbar_busy_machine": rec.total.xbar_ns / (available * end) if end else 0.0,
            "resources": {c: {"count": len(v), "busy_ns": sum(v), "mean_busy": sum(v) / (len(v) * end) if end else 0}
                          for c, v in sorted(busy_by_class.items())},
        },
        "traffic": _traffic(rec.total),
        "states": [{"state": n, "start_ns": s, "end_ns": e} for n, s, e in rec.states],
    }


def _fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns:.1f} ns"


def _fmt_pj(pj: float) -> str:
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if pj >= scale:
            return f"{pj / scale:.3f} {unit}"
    return f"{pj:.1f} pJ"


BATCH_FROM = {"model": " (the model's)", "default": " (default)"}


def summary(report: dict[str, Any], top: int = 12) -> str:
    """A readable table: totals, phases, the costliest layers, the energy breakdown, traffic."""
    r = report
    lines = [f"{r['model']} ({r['zero_free']}, {r['target']}, replica {r['replica']}, "
             f"batch {r['batch']}{BATCH_FROM.get(r.get('batch_from', ''), '')}, "
             f"{r['iterations']} iteration(s)): time {_fmt_ns(r['time_ns'])}, energy {_fmt_pj(r['energy_pj'])}",
             f"{'phase':<10} {'time':>12} {'energy':>12}"]
    for ph, v in r["phases"].items():
        lines.append(f"{ph:<10} {_fmt_ns(v['time_ns']):>12} {_fmt_pj(v['energy_pj']):>12}")
    lines.append(f"{'layer':<16} {'phase':<8} {'time':>12} {'energy':>12} {'rounds':>7} {'xbar util':>9}")
    for v in sorted(r["layers"], key=lambda x: -x["time_ns"])[:top]:
        lines.append(f"{v['layer'][:16]:<16} {v['phase']:<8} {_fmt_ns(v['time_ns']):>12} "
                     f"{_fmt_pj(v['energy_pj']):>12} {v['mmv_rounds']:>7} {v['crossbar_utilization']:>9.3f}")
    total = r["energy_pj"] or 1.0
    lines.append("energy: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in r["energy_breakdown"].items() if v))
    lines.append("bytes x hops: " + ", ".join(f"{k} {v:.4g}" for k, v in r["traffic"].items()))
    return "\n".join(lines)


__all__ = ["build_report", "summary", "union_length"]

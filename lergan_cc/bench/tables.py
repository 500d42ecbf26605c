"""Markdown tables of the results, one per figure of the paper's §VI (Fig. 16–20, 23–24, SArray)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lergan_cc.bench.configs import BASELINE, DP, MODELS, REFERENCES, baseline_of
from lergan_cc.bench.results import mean

PHASES = ("G_fwd", "G_wgrad", "G_err", "D_fwd", "D_wgrad", "D_err")
Rows = list[dict[str, Any]]
Cell = Callable[[str, str], float | None]


def fmt(v: float | None, digits: int = 2) -> str:
    """Fixed decimals, or three significant digits below 0.1 (speedups over a GPU can be that small)."""
    if v is None:
        return "—"
    return f"{v:.3g}" if 0 < abs(v) < 0.1 else f"{v:.{digits}f}"


def grid(rows: list[str], cols: list[str], cell: Cell, labels: dict[str, str], with_mean: bool = True,
         digits: int = 2) -> str:
    """A markdown table: a row per model (by label), a column per key, and a mean row."""
    head = "| benchmark | " + " | ".join(cols) + " |\n| --- |" + " ---: |" * len(cols) + "\n"
    body = "".join(f"| {labels.get(r, r)} | " + " | ".join(fmt(cell(r, c), digits) for c in cols) + " |\n"
                   for r in rows)
    if with_mean and len(rows) > 1:
        body += "| **mean** | " + " | ".join(f"**{fmt(mean([cell(r, c) for r in rows]), digits)}**"
                                             for c in cols) + " |\n"
    return head + body


def index(rows: Rows) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["config"]): r for r in rows}


def models_of(rows: Rows) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in rows))


def configs_of(rows: Rows) -> list[str]:
    return list(dict.fromkeys(r["config"] for r in rows))


def metric_table(rows: Rows, field: str, configs: list[str] | None = None) -> str:
    """``field`` of every (benchmark, design point)."""
    by = index(rows)
    configs = configs or [c for c in configs_of(rows) if c != BASELINE and not c.endswith(DP)]
    return grid(models_of(rows), configs, lambda m, c: by.get((m, c), {}).get(field), MODELS)


def phase_table(rows: Rows, config: str, field: str) -> str:
    """A per-phase field of ``config`` (``phase_speedup_vs_prime``, ``phase_space_vs_prime``…), one column per phase."""
    by = index(rows)
    return grid(models_of(rows), list(PHASES), lambda m, p: by.get((m, config), {}).get(field, {}).get(p), MODELS)


def phase_ns(row: dict[str, Any], phase: str) -> float | None:
    """Per-phase speedup at normalized space: the phase speedup over the phase's crossbars relative to PRIME."""
    return _div(row.get("phase_speedup_vs_prime", {}).get(phase), row.get("phase_space_vs_prime", {}).get(phase))


def phase_ns_table(rows: Rows, config: str) -> str:
    by = index(rows)
    return grid(models_of(rows), list(PHASES), lambda m, p: phase_ns(by.get((m, config), {}), p), MODELS)


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def sarray_table(sarray: Rows) -> str:
    """Zero-inserted / useful input values (the SArray space ZFDR saves), G_fwd and all phases."""
    by = {s["model"]: s for s in sarray}
    cols = ["G_fwd", "ZFDR phases", "all phases"]
    keys = {"G_fwd": "g_fwd", "ZFDR phases": "zfdr_phases", "all phases": "all_phases"}
    return grid(list(by), cols, lambda m, c: by[m].get(keys[c]), MODELS)


def breakdown_table(rows: Rows, config: str) -> str:
    """Energy breakdown of ``config`` in percent of its total, per benchmark and on average."""
    by = index(rows)
    models = [m for m in models_of(rows) if by.get((m, config), {}).get("energy_breakdown")]
    if not models:
        return ""
    keys = list(dict.fromkeys(k for m in models for k in flat(by[(m, config)]["energy_breakdown"])))

    def cell(m: str, k: str) -> float | None:
        parts = flat(by[(m, config)]["energy_breakdown"])
        total = sum(parts.values())
        return 100 * parts.get(k, 0.0) / total if total else None

    return grid(models, keys, cell, MODELS, digits=1)


def flat(d: Any, prefix: str = "") -> dict[str, float]:
    """A nested breakdown as ``{"a/b": value}`` over its numeric leaves."""
    if isinstance(d, int | float):
        return {prefix or "total": float(d)}
    if not isinstance(d, dict):
        return {}
    out: dict[str, float] = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}/{k}" if prefix else str(k)))
    return out


NS_CONFIGS = ("2d-zfdr", "3d-zfdr", "lergan-low", "lergan-middle", "lergan-high", "zara-low", "zara-middle",
              "zara-high")


def markdown(rows: Rows, sarray: Rows, head: str = "") -> str:
    """Every table, with a heading naming the paper's figure it stands beside."""
    cfgs = configs_of(rows)
    ns = [c for c in NS_CONFIGS if c in cfgs]
    parts = ["# lergan-bench results\n", *([head] if head else []),
             "## Speedup over PRIME (Fig. 17–19)\n", metric_table(rows, "speedup_vs_prime"),
             "## Energy saving over PRIME (Fig. 20)\n", metric_table(rows, "energy_saving_vs_prime")]
    for ref, suffix in REFERENCES.items():
        if ref in cfgs:
            others = [c for c in cfgs if c != ref]
            parts += [f"## Speedup over {ref} (Fig. 21; an ideal roofline, docs/results.md)\n",
                      metric_table(rows, f"speedup_vs_{suffix}", others),
                      f"## Energy saving over {ref} (Fig. 22)\n",
                      metric_table(rows, f"energy_saving_vs_{suffix}", others)]
    if ns:
        parts += ["## Space: crossbars relative to PRIME\n", metric_table(rows, "space_vs_prime", ns),
                  "## Speedup over PRIME at normalized space (NS: PRIME scaled ideally to the same crossbars)\n",
                  metric_table(rows, "speedup_vs_prime_ns", ns)]
    for config in ("2d-zfdr", "lergan-low"):
        if config in cfgs:
            parts += [f"## Per-phase speedup of {config} over PRIME (Fig. 16)\n",
                      phase_table(rows, config, "phase_speedup_vs_prime"),
                      f"## Per-phase space of {config}: crossbars relative to PRIME's for the phase (Fig. 16 NS)\n",
                      phase_table(rows, config, "phase_space_vs_prime"),
                      f"## Per-phase speedup of {config} at normalized space (Fig. 16 NS)\n",
                      phase_ns_table(rows, config)]
    if sarray:
        parts += ["## SArray space saved by ZFDR: zero-inserted / useful input values\n", sarray_table(sarray)]
    for config in ("lergan-low", BASELINE):
        if breakdown_table(rows, config):
            parts += [f"## Energy breakdown of {config}, % of total (Fig. 23–24)\n", breakdown_table(rows, config)]
    return "\n".join(parts + whole_machine(rows))


def whole_machine(rows: Rows) -> list[str]:
    """The whole-machine (``-dp``) points' tables: over ``prime-dp``, over their one-copy points, over the
    non-PIM baselines, and their energy split."""
    cfgs = configs_of(rows)
    dp = [c for c in cfgs if c.endswith(DP) and c != baseline_of(c)]
    if not dp:
        return []
    parts = ["## The whole machine: --data-parallel auto --overlap paper (issue 14)\n",
             f"### Speedup over {baseline_of(dp[0])}\n", metric_table(rows, "speedup_vs_prime", dp),
             "### Speedup over the same design point with one copy of each matrix (no overlaps)\n",
             metric_table(rows, "speedup_vs_serial", [*([baseline_of(dp[0])] if baseline_of(dp[0]) in cfgs else []),
                                                      *dp]),
             f"### Energy saving over {baseline_of(dp[0])}\n", metric_table(rows, "energy_saving_vs_prime", dp)]
    for ref, suffix in REFERENCES.items():
        if ref in cfgs:
            parts += [f"### Speedup over {ref}\n", metric_table(rows, f"speedup_vs_{suffix}", dp),
                      f"### Energy saving over {ref}\n", metric_table(rows, f"energy_saving_vs_{suffix}", dp)]
    if "lergan-low-dp" in cfgs and breakdown_table(rows, "lergan-low-dp"):
        parts += ["### Energy breakdown of lergan-low-dp, % of total\n", breakdown_table(rows, "lergan-low-dp")]
    return parts

"""A sweep's figures: the Pareto front per model (three 2-D views of time, energy and crossbars) and
the sensitivity of time and energy to each parameter alone. matplotlib is imported lazily (``plots``)."""

from __future__ import annotations

from typing import Any

from lergan_cc.bench.configs import CONFIGS, MODELS
from lergan_cc.bench.plots import png_bytes, pyplot
from lergan_cc.bench.sweep import outputs, pareto
from lergan_cc.bench.sweep.points import Design
from lergan_cc.bench.sweep.spec import Param, Sweep

AXES = {"time_ns": ("time per iteration (ms)", 1e6), "energy_pj": ("energy per iteration (mJ)", 1e9),
        "crossbars_used": ("crossbars used", 1.0)}
VIEWS = (("time_ns", "energy_pj"), ("time_ns", "crossbars_used"), ("energy_pj", "crossbars_used"))


def _plain_ticks(axis: Any) -> None:
    """Log-axis labels as plain numbers (``0.5``, ``200``, not ``5e-01``), on the ticks matplotlib's
    log formatter labels (minor ones too where the axis spans few decades)."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(Plain(labelOnlyBase=False))
    axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _xy(rows: list[outputs.Row], x: str, y: str) -> tuple[list[float], list[float]]:
    return [r[x] / AXES[x][1] for r in rows], [r[y] / AXES[y][1] for r in rows]


def _staircase(ax: Any, rows: list[outputs.Row], x: str, y: str) -> None:
    """The 2-D front of this view, as the step line a reader follows."""
    xs, ys = _xy(rows, x, y)
    keep = sorted(pareto.front(list(zip(xs, ys, strict=True))), key=lambda i: (xs[i], ys[i]))
    ax.step([xs[i] for i in keep], [ys[i] for i in keep], where="post", color="black", linewidth=0.7, zorder=1)


def pareto_figure(model: str, rows: list[outputs.Row], front: list[outputs.Row]) -> bytes | None:
    ok = [r for r in rows if all(r.get(k) is not None for k in outputs.OBJECTIVES)]
    if not ok:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    configs = list(dict.fromkeys(r["config"] for r in ok))
    colors = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(configs)}
    for ax, (x, y) in zip(axes, VIEWS, strict=True):
        ax.scatter(*_xy(ok, x, y), s=9, color="0.75", label="all runs", zorder=2)
        _staircase(ax, ok, x, y)
        for c in configs:
            mine = [r for r in front if r["config"] == c]
            if mine:
                ax.scatter(*_xy(mine, x, y), s=34, color=colors[c], edgecolors="black", linewidths=0.5,
                           label=f"{CONFIGS[c].label} on the 3-D front" if c in CONFIGS else c, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_ticks(ax.xaxis)
        _plain_ticks(ax.yaxis)
        ax.set_xlabel(AXES[x][0])
        ax.set_ylabel(AXES[y][0])
        ax.grid(which="both", linewidth=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{MODELS.get(model, model)}: Pareto front of time, energy and crossbars ({len(front)} of "
                 f"{len(ok)} runs; line: the front of each 2-D view)")
    return png_bytes(fig, plt)


def sensitivity_figure(sweep: Sweep, design: Design, rows: list[outputs.Row], model: str) -> bytes | None:
    params = [p for p in sweep.params if p.name in design.one_at_a_time]
    if not params:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(params), 2, figsize=(12, 2.8 * len(params)), squeeze=False)
    for row, p in enumerate(params):
        for col, what in enumerate(("time", "energy")):
            _sensitivity_axes(axes[row][col], p, what)
    for c in sweep.configs:
        series = outputs.sensitivity(design, rows, model, c)
        for row, p in enumerate(params):
            s = series[p.name]
            numeric = all(isinstance(v, (int, float)) for v, _, _ in s)
            xs = [v for v, _, _ in s] if numeric else list(range(len(s)))
            names = [f"{v:g}" if numeric else "/".join(v) for v, _, _ in s]
            for col, k in enumerate((1, 2)):
                ys = [t[k] if t[k] is not None else float("nan") for t in s]
                axes[row][col].plot(xs, ys, marker="o", markersize=3, label=CONFIGS[c].label)
                axes[row][col].set_xticks(xs, names, fontsize=7 if numeric else 6)
    for row, p in enumerate(params):  # after the data, which sets the limits
        for ax in axes[row]:
            if isinstance(design.defaults[p.name], (int, float)):
                ax.axvline(design.defaults[p.name], color="black", linestyle="--", linewidth=0.6)
            ax.axhline(1.0, color="black", linewidth=0.4)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{MODELS.get(model, model)}: each parameter alone, the others at default (dashed: the default)")
    return png_bytes(fig, plt)


def _sensitivity_axes(ax: Any, p: Param, what: str) -> None:
    """Scales first (setting a scale resets the ticks); ratios on a log axis."""
    if p.log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter("")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis)
    ax.set_xlabel(p.name)
    ax.set_ylabel(f"{what} × default")
    ax.grid(which="both", linewidth=0.3)


def figures(sweep: Sweep, design: Design, rows: list[outputs.Row], fronts: dict[str, list[outputs.Row]]
            ) -> dict[str, bytes]:
    out: dict[str, bytes | None] = {}
    for m in sweep.models:
        mine = [r for r in rows if r["model"] == m.name]
        out[f"pareto-{m.name}.png"] = pareto_figure(m.name, mine, fronts.get(m.name, []))
        out[f"sensitivity-{m.name}.png"] = sensitivity_figure(sweep, design, rows, m.name)
    return {k: v for k, v in out.items() if v is not None}

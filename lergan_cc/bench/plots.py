"""PNG plots of the tables, one per figure of the paper's §VI. matplotlib is imported here only, lazily."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from lergan_cc.bench.configs import CONFIGS, MODELS
from lergan_cc.bench.results import mean
from lergan_cc.bench.tables import PHASES, Rows, flat, index, models_of, phase_ns

# Figure file -> (title, field of a row, design points drawn, log scale).
FIGURES: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    "fig17_interconnect.png": ("ZFDR on H-tree (2D) vs 3-D connection: speedup over PRIME", "speedup_vs_prime",
                               ("2d-zfdr", "2d-zfdr-low", "3d-zfdr", "lergan-low"), True),
    "fig18_reshape.png": ("ZFDR vs normal reshape (NR) with 3-D connection: speedup over PRIME", "speedup_vs_prime",
                          ("3d-nr", "3d-zfdr", "lergan-low"), True),
    "fig19_speedup.png": ("LerGAN and ZARA-style deform: speedup over PRIME", "speedup_vs_prime",
                          ("lergan-low", "lergan-middle", "lergan-high", "zara-low", "zara-middle", "zara-high"), True),
    "fig19_speedup_ns.png": ("Speedup over PRIME at normalized space (PRIME scaled ideally to the same crossbars)",
                             "speedup_vs_prime_ns",
                             ("3d-zfdr", "lergan-low", "lergan-middle", "lergan-high", "zara-low", "zara-high"), True),
    "fig21_vs_gpu.png": ("LerGAN over the GPU (ideal Titan X roofline): speedup", "speedup_vs_gpu",
                         ("prime", "lergan-low", "lergan-middle", "lergan-high"), True),
    "fig21_vs_fpga.png": ("LerGAN over the FPGA-GAN accelerator (ideal VCU118 roofline): speedup", "speedup_vs_fpga",
                          ("prime", "lergan-low", "lergan-middle", "lergan-high"), True),
    "fig20_energy.png": ("Energy saving over PRIME", "energy_saving_vs_prime",
                         ("lergan-low", "lergan-middle", "lergan-high", "zara-low", "zara-middle", "zara-high"), True),
    # the whole machine (issue 14): every phase as many sample-parallel copies as its bank holds, overlaps
    "dp_speedup.png": ("The whole machine: speedup over PRIME-dp", "speedup_vs_prime",
                       ("2d-zfdr-dp", "2d-zfdr-low-dp", "3d-zfdr-dp", "lergan-low-dp", "lergan-middle-dp",
                        "lergan-high-dp"), True),
    "dp_gain.png": ("What copies and overlaps gain: speedup over the same design point with one copy",
                    "speedup_vs_serial", ("prime-dp", "2d-zfdr-dp", "3d-zfdr-dp", "lergan-low-dp",
                                          "lergan-middle-dp", "lergan-high-dp"), True),
    "dp_vs_gpu.png": ("The whole machine over the GPU (ideal Titan X roofline): speedup", "speedup_vs_gpu",
                      ("prime-dp", "lergan-low-dp", "lergan-middle-dp", "lergan-high-dp"), True),
    "dp_vs_fpga.png": ("The whole machine over the FPGA-GAN accelerator (ideal VCU118 roofline): speedup",
                       "speedup_vs_fpga", ("prime-dp", "lergan-low-dp", "lergan-middle-dp", "lergan-high-dp"), True),
}


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bars(groups: list[str], series: dict[str, list[float | None]], title: str, ylabel: str, log: bool,
         ref: float | None = 1.0) -> bytes:
    """Grouped bars: one group per benchmark (and the mean), one bar per series, values printed above."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(min(16.0, 4.0 + 0.22 * len(groups) * (len(series) + 1)), 5.5))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [v if v is not None else 0.0 for v in values]
        drawn = ax.bar(xs, ys, width, label=name)
        if len(series) * len(groups) <= 60:
            ax.bar_label(drawn, labels=[_short(v) for v in values], fontsize=7, rotation=90, padding=2)
    if ref is not None:
        ax.axhline(ref, color="black", linewidth=0.6)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.margins(y=0.2)
    ax.set_xticks(range(len(groups)), groups, rotation=25, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=9, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.grid(axis="y", which="major", linewidth=0.3)
    return png_bytes(fig, plt)


def _short(v: float | None) -> str:
    if v is None:
        return ""
    if 0 < abs(v) < 0.1:
        return f"{v:.2g}"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def png_bytes(fig: Any, plt: Any) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def _labels(models: list[str]) -> list[str]:
    return [MODELS.get(m, m) for m in models] + ["mean"]


def metric_figure(rows: Rows, title: str, field: str, configs: tuple[str, ...], log: bool) -> bytes | None:
    by, models = index(rows), models_of(rows)
    present = [c for c in configs if any(by.get((m, c), {}).get(field) is not None for m in models)]
    if not present:
        return None
    series = {}
    for c in present:
        values = [by.get((m, c), {}).get(field) for m in models]
        series[CONFIGS[c].label] = [*values, mean(values)]
    return bars(_labels(models), series, title, field.replace("_", " "), log)


def fields_figure(rows: Rows, config: str, fields: dict[str, str], title: str, ylabel: str) -> bytes | None:
    """One design point, a bar per field (e.g. energy saving over each baseline), a group per benchmark."""
    by, models = index(rows), models_of(rows)
    series = {}
    for name, field in fields.items():
        values = [by.get((m, config), {}).get(field) for m in models]
        if any(v is not None for v in values):
            series[name] = [*values, mean(values)]
    return bars(_labels(models), series, title, ylabel, True) if series else None


def phase_figure(rows: Rows, config: str, ns: bool) -> bytes | None:
    """Fig. 16: per-phase speedup of ``config`` over PRIME (at normalized space when ``ns``), a bar per phase."""
    by, models = index(rows), models_of(rows)
    series = {}
    for p in PHASES:
        values = [_phase(by.get((m, config), {}), p, ns) for m in models]
        if any(v is not None for v in values):
            series[p] = [*values, mean(values)]
    if not series:
        return None
    what = "at normalized space" if ns else ""
    return bars(_labels(models), series, f"Per-phase speedup of {CONFIGS[config].label} over PRIME {what}",
                "phase speedup", True)


def _phase(row: dict[str, Any], phase: str, ns: bool) -> float | None:
    return phase_ns(row, phase) if ns else row.get("phase_speedup_vs_prime", {}).get(phase)


def sarray_figure(sarray: Rows) -> bytes | None:
    if not sarray:
        return None
    models = [s["model"] for s in sarray]
    series = {}
    for key, name in (("g_fwd", "G_fwd (paper's definition)"), ("zfdr_phases", "all ZFDR layers"),
                      ("all_phases", "all layers")):
        values = [s.get(key) for s in sarray]
        series[name] = [*values, mean(values)]
    return bars(_labels(models), series, "SArray space saved by ZFDR (zero-inserted / useful inputs)",
                "space saving (×)", False)


def breakdown_figure(rows: Rows, config: str, field: str, title: str) -> bytes | None:
    """Fig. 23/24: stacked percentages of a breakdown (``energy_breakdown``, ``tile_energy``), a bar per benchmark."""
    by = index(rows)
    models = [m for m in models_of(rows) if by.get((m, config), {}).get(field)]
    if not models:
        return None
    parts = [flat(by[(m, config)][field]) for m in models]
    keys = [k for k in dict.fromkeys(k for p in parts for k in p) if any(p.get(k) for p in parts)]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 5.5))
    bottom = [0.0] * len(models)
    cmap = plt.get_cmap("tab20")
    for i, k in enumerate(keys):
        share = [100 * p.get(k, 0.0) / (sum(p.values()) or 1) for p in parts]
        drawn = ax.bar(range(len(models)), share, bottom=bottom, label=k, color=cmap(i % 20))
        ax.bar_label(drawn, labels=[f"{v:.0f}" if v >= 4 else "" for v in share], label_type="center", fontsize=7)
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    ax.set_xticks(range(len(models)), [MODELS.get(m, m) for m in models], rotation=25, ha="right")
    ax.set_ylabel("% of energy")
    ax.set_title(f"{title} of {CONFIGS[config].label}")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return png_bytes(fig, plt)


# A figure to draw: its file name, the function drawing it and that function's arguments.
Job = tuple[str, Callable[..., "bytes | None"], tuple[Any, ...]]


def jobs(rows: Rows, sarray: Rows) -> list[Job]:
    """Every figure of the results, in file order (a figure without data draws nothing)."""
    out: list[Job] = [(name, metric_figure, (rows, *spec)) for name, spec in FIGURES.items()]
    out += [("fig16_phases_2d_zfdr.png", phase_figure, (rows, "2d-zfdr", False)),
            ("fig16_phases_2d_zfdr_ns.png", phase_figure, (rows, "2d-zfdr", True)),
            ("fig16_phases_lergan_low.png", phase_figure, (rows, "lergan-low", False)),
            ("fig22_energy_vs_gpu_fpga.png", fields_figure,
             (rows, "lergan-low", {"over the GPU": "energy_saving_vs_gpu", "over FPGA-GAN": "energy_saving_vs_fpga"},
              "Energy saving of LerGAN-low over the GPU and the FPGA-GAN accelerator (Fig. 22)", "energy saving (×)")),
            ("sarray.png", sarray_figure, (sarray,)),
            ("fig23_energy_breakdown.png", breakdown_figure,
             (rows, "lergan-low", "energy_breakdown", "Energy breakdown")),
            ("fig24_tile_energy.png", breakdown_figure,
             (rows, "lergan-low", "tile_energy", "Energy of the ReRAM tiles"))]
    return out


def figures(rows: Rows, sarray: Rows, workers: int = 1) -> dict[str, bytes]:
    """File name -> PNG bytes, for every figure the results have data for, drawn by ``workers`` processes.

    matplotlib's Agg drawing holds the GIL, so figures are drawn in parallel by forked processes (each
    imports matplotlib, ~0.3 s); the 19 figures of a full run take ~4.5 s on one core."""
    todo = jobs(rows, sarray)
    if workers <= 1 or len(todo) <= 1:
        drawn = [draw(*job[1:]) for job in todo]
    else:
        from lergan_cc.bench.executors import fork_pool

        pool = fork_pool(min(workers, len(todo)))
        try:
            drawn = list(pool.map(draw, [j[1] for j in todo], [j[2] for j in todo]))
        finally:  # interrupted or failed: the figures not started are dropped, not drawn first
            pool.shutdown(wait=True, cancel_futures=True)
    return {name: png for (name, _, _), png in zip(todo, drawn, strict=True) if png is not None}


def draw(function: Callable[..., bytes | None], args: tuple[Any, ...]) -> bytes | None:
    return function(*args)

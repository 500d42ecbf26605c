"""``--emit placement`` (JSON) and ``--plot-placement FILE.png`` from a placed graph.

The only module that imports matplotlib, lazily, so compiling never pays for it.
"""

from __future__ import annotations

import io
import json
from typing import Any

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import Placement, PlacementSummary, Replicas, Reshape, copies_per_phase
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op

# Phases drawn in the colours of their banks (Fig. 13): a colour map each, shaded by layer.
PHASE_CMAP = {"G_fwd": "Blues", "G_wgrad": "Purples", "G_err": "RdPu", "fwd": "Blues",
              "D_fwd": "Greens", "D_wgrad": "Reds", "D_err": "YlOrBr"}
PHASE_ORDER = ("fwd", "G_fwd", "G_wgrad", "G_err", "D_fwd", "D_wgrad", "D_err")
GRID = 4  # tiles drawn per row of a bank


def placed(g: Graph) -> PlacementSummary:
    summary = g.get(PlacementSummary)
    if summary is None:
        raise LerganError("no placement: the pipeline stopped before place-3d/place-htree")
    return summary


def placed_ops(g: Graph) -> list[Op]:
    return [op for op in g.ops() if op.get(Placement) is not None]


def _kinds(op: Op, shards: int) -> list[dict[str, Any]]:
    copies = op.need(Placement).copies
    out = []
    for (index, cls, _, _), n in zip(op.need(Reshape).matrices(), op.need(Replicas).per_kind, strict=True):
        mine = [c for c in copies if c.kind == index]
        out.append({"kind": index, "class": cls, "replicas": n, "copies": n * shards,
                    "tiles": list(dict.fromkeys(c.tile for c in mine)), "crossbars": sum(c.crossbars for c in mine)})
    return out


def report(g: Graph) -> dict[str, Any]:
    """The DESIGN §8 placement JSON, plus target, degree, tiles used and per-layer op/bank/crossbars."""
    summary = placed(g)
    layers = []
    for op in placed_ops(g):
        shards = copies_per_phase(g, op.phase)
        kinds = _kinds(op, shards)
        layers.append({"layer": op.layer, "phase": op.phase, "op": op.name, "bank": op.need(Placement).bank,
                       "degree": op.need(Replicas).degree, "shards": shards,
                       "crossbars": sum(k["crossbars"] for k in kinds), "kinds": kinds})
    phases = summary.to_value()["phases"]
    copies = {p: copies_per_phase(g, p) for p in phases}
    return {"target": summary.target, "phases": phases, "copies": copies, "layers": layers,
            "crossbars_used": summary.crossbars_used,
            "tiles_used": summary.tiles_used}


def dumps(g: Graph) -> str:
    return json.dumps(report(g), indent=1) + "\n"


# ---- the picture ----------------------------------------------------------------------------

def tile_usage(g: Graph) -> dict[str, list[tuple[str, str, int]]]:
    """tile -> [(phase, layer, crossbars)] in placement order."""
    usage: dict[str, dict[tuple[str, str], int]] = {}
    for op in placed_ops(g):
        for c in op.need(Placement).copies:
            cell = usage.setdefault(c.tile, {})
            cell[(op.phase, op.layer)] = cell.get((op.phase, op.layer), 0) + c.crossbars
    return {t: [(p, layer, n) for (p, layer), n in cells.items()] for t, cells in usage.items()}


def _layer_colours(g: Graph) -> dict[tuple[str, str], Any]:
    import matplotlib

    by_phase: dict[str, list[str]] = {}
    for op in placed_ops(g):
        by_phase.setdefault(op.phase, [])
        if op.layer not in by_phase[op.phase]:
            by_phase[op.phase].append(op.layer)
    out = {}
    for phase, layers in by_phase.items():
        cmap = matplotlib.colormaps[PHASE_CMAP.get(phase, "Greys")]
        for i, layer in enumerate(sorted(layers, key=_natural)):
            out[(phase, layer)] = cmap(0.35 + 0.55 * i / max(1, len(layers) - 1))
    return out


def _natural(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    return head, int(name[len(head):] or 0)


def _bank_layout(banks: list[str]) -> dict[str, tuple[int, int]]:
    """Bank -> (row, column) in the figure: a 3DCU per row, top bank on the left."""
    numbers = sorted(int(b[1:]) for b in banks)
    return {f"B{n}": ((n - 1) // 3, (n - 1) % 3) for n in numbers}


def plot(g: Graph, hw_tiles: int, per_tile: int) -> bytes:
    """A PNG: every used bank as a grid of tiles; each tile filled bottom-up by the layers it holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    summary = placed(g)
    banks = [b for bs in summary.phases.values() for b in bs]
    phase_of = {b: p for p, bs in summary.phases.items() for b in bs}
    layout = _bank_layout(banks)
    rows = max(r for r, _ in layout.values()) + 1
    usage, colours = tile_usage(g), _layer_colours(g)
    fig, axes = plt.subplots(rows, 3, figsize=(13, 4.7 * rows + 1.6), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    side = hw_tiles // GRID if hw_tiles >= GRID else 1
    for bank, (r, c) in layout.items():
        ax = axes[r][c]
        _draw_bank(ax, bank, phase_of[bank], hw_tiles, per_tile, usage, colours, Rectangle)
        ax.set_xlim(-0.1, GRID + 0.1)
        ax.set_ylim(-0.1, side + 0.1)
        ax.set_aspect("equal")
    handles, ncol = _legend(colours, Patch)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    copies = {p: copies_per_phase(g, p) for p in summary.phases}
    shown = "" if set(copies.values()) == {1} else \
        "\nsample-parallel copies: " + ", ".join(f"{p} {k}" for p, k in copies.items())
    fig.suptitle(f"{g.model}: {summary.target} placement, {summary.crossbars_used} crossbars on "
                 f"{summary.tiles_used} tiles ({per_tile} crossbars per tile){shown}", fontsize=12)
    fig.tight_layout(rect=(0, 0.03 + 0.018 * (len(handles) // ncol), 1, 0.96), h_pad=3.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _legend(colours: dict[tuple[str, str], Any], patch: Any) -> tuple[list[Any], int]:
    """One legend column per phase (Fig. 13 order), its layers top to bottom."""
    phases = [p for p in PHASE_ORDER if any(ph == p for ph, _ in colours)]
    columns = [[(p, layer) for ph, layer in sorted(colours, key=lambda k: _natural(k[1])) if ph == p] for p in phases]
    height = max((len(c) for c in columns), default=0)
    handles = []
    for p, column in zip(phases, columns, strict=True):
        handles += [patch(facecolor=colours[k], edgecolor="black", linewidth=0.4, label=f"{k[1]} ({p})")
                    for k in column]
        handles += [patch(facecolor="none", edgecolor="none", label="")] * (height - len(column))
    return handles, max(1, len(phases))


def _draw_bank(ax: Any, bank: str, phase: str, tiles: int, per_tile: int,
               usage: dict[str, list[tuple[str, str, int]]], colours: dict[tuple[str, str], Any],
               rectangle: Any) -> None:
    used = 0
    for t in range(tiles):
        x, y = t % GRID, (tiles // GRID if tiles >= GRID else 1) - 1 - t // GRID
        ax.add_patch(rectangle((x + 0.04, y + 0.04), 0.92, 0.92, facecolor="white", edgecolor="#999999",
                               linewidth=0.8))
        bottom = y + 0.04
        for ph, layer, n in usage.get(f"{bank}.T{t}", []):
            h = 0.92 * n / per_tile
            ax.add_patch(rectangle((x + 0.04, bottom), 0.92, h, facecolor=colours[(ph, layer)], edgecolor="none"))
            if h > 0.12:
                ax.text(x + 0.5, bottom + h / 2, layer, ha="center", va="center", fontsize=8)
            bottom += h
            used += n
        ax.text(x + 0.08, y + 0.86, f"T{t}", fontsize=6, color="#555555")
    ax.set_title(f"{bank} — {phase} ({100 * used / (tiles * per_tile):.1f}% of crossbars)", fontsize=10)

"""What replicate, place-3d and place-htree share: matrices on crossbars, banks as allocators, annotations.

A matrix (groups, rows, cols) of 16-bit weights takes ``groups x ceil(rows / crossbar_rows)``
*row slices*, each ``ceil(cols / weight_columns_per_crossbar)`` crossbars wide. A copy is
placed slice by slice: one slice never straddles two tiles, a copy may (it is then listed as
several entries, each with its first slice ``row_start`` and its ``row_slices``; slices are
counted group-major, so slice ``s`` is group ``s // ceil(rows / crossbar_rows)``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lergan_cc.errors import LerganError
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.options import Options
from lergan_cc.targets.geometry import PHASE_BANK
from lergan_cc.targets.hw import Hardware, load_hw

MATRIX_OPS = frozenset({"sconv", "tconv", "wconv", "dense", "wdense"})
ZFDM_SCHEMES = frozenset({"zfdr", "deform"})
# The network a phase belongs to; its three phases share a 3DCU (Fig. 13). Inference runs as G_fwd.
SIDE: dict[str, str] = {"G_fwd": "G", "G_wgrad": "G", "G_err": "G", "fwd": "G",
                        "D_fwd": "D", "D_wgrad": "D", "D_err": "D"}
FORWARD = frozenset({"G_fwd", "D_fwd", "fwd"})


@dataclass(frozen=True)
class Matrix:
    """One matrix to store: a ZFDR/deform kind, or the single matrix of a normal mapping."""

    kind: int
    cls: str
    reuse: int
    shape: tuple[int, int, int]


def hardware(options: Options) -> Hardware:
    return load_hw(options.hw)


def matrix_ops(g: Graph) -> list[Op]:
    """Ops that hold weights in crossbars (they carry ``reshape`` after a reshaping pass)."""
    return [op for op in g.ops() if op.OP in MATRIX_OPS and "reshape" in op.extra]


def is_zfdm(op: Op) -> bool:
    return op.extra["reshape"]["scheme"] in ZFDM_SCHEMES


def matrices(op: Op) -> list[Matrix]:
    r = op.extra["reshape"]
    if "kinds" in r:
        return [Matrix(k["index"], k["class"], k["reuse"], tuple(k["matrix"])) for k in r["kinds"]]
    return [Matrix(0, "Normal", int(r["stats"]["rounds"]), tuple(r["matrix"]))]


def slices(hw: Hardware, shape: tuple[int, ...]) -> tuple[int, int]:
    """(row slices over all groups, crossbars per row slice) of one copy."""
    groups, rows, cols = shape
    return groups * math.ceil(rows / hw.crossbar.rows), math.ceil(cols / hw.weight_columns_per_crossbar)


def crossbars(hw: Hardware, shape: tuple[int, ...]) -> int:
    rs, cs = slices(hw, shape)
    return rs * cs


def copies_of(op: Op) -> list[int]:
    """Copies per kind: ``replicas.per_kind`` when replicate ran, else one of each."""
    rep = op.extra.get("replicas")
    return list(rep["per_kind"]) if rep else [1] * len(matrices(op))


def part_size(hw: Hardware, op: Op) -> int:
    """Crossbars of every copy of every matrix of ``op``."""
    return sum(n * crossbars(hw, m.shape) for m, n in zip(matrices(op), copies_of(op), strict=True))


def layer_key(op: Op) -> tuple[str, str]:
    return SIDE[op.phase], op.layer


def layer_order(ops: Iterable[Op]) -> list[tuple[str, str]]:
    """Layers in forward order (the order of the forward ops), backward-only layers after."""
    ops = list(ops)
    keys = [layer_key(op) for op in ops if op.phase in FORWARD] + [layer_key(op) for op in ops]
    return list(dict.fromkeys(keys))


def bank_of(phase: str) -> str:
    return PHASE_BANK[phase]


# ---- banks as allocators -------------------------------------------------------------------

@dataclass
class Pending:
    """A copy still (partly) to place."""

    op: str
    kind: int
    replica: int
    total: int  # row slices
    cs: int  # crossbars per row slice
    done: int = 0


@dataclass
class Bank:
    """Free crossbar ranges of one bank, in bank offsets (tile = offset // per_tile), never crossing a tile."""

    name: str
    tiles: int
    per_tile: int
    free: list[list[int]] = field(default_factory=list)
    high: int = 0  # one past the highest crossbar allocated

    def __post_init__(self) -> None:
        self.free = [[t * self.per_tile, (t + 1) * self.per_tile] for t in range(self.tiles)]

    @property
    def capacity(self) -> int:
        return self.tiles * self.per_tile

    def take(self, n: int, cs: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """Up to ``n`` slices of ``cs`` crossbars, first fit in [lo, hi): (offset, slices) pieces."""
        out: list[tuple[int, int]] = []
        for iv in list(self.free):
            if n == 0 or iv[0] >= hi:
                break
            start, end = max(iv[0], lo), min(iv[1], hi)
            k = min(n, (end - start) // cs) if end > start else 0
            if k:
                out.append((start, k))
                n -= k
                self._carve(iv, start, start + k * cs)
        return out

    def _carve(self, iv: list[int], a: int, b: int) -> None:
        i = self.free.index(iv)
        rest = [r for r in ([iv[0], a], [b, iv[1]]) if r[1] > r[0]]
        self.free[i:i + 1] = rest
        self.high = max(self.high, b)

    def tile(self, offset: int) -> int:
        return offset // self.per_tile


def fill(bank: Bank, queue: deque[Pending], lo: int, hi: int, budget: float = math.inf) -> list[tuple[str, dict]]:
    """Place queued copies in [lo, hi) of ``bank`` until ``budget`` crossbars are used or room runs out."""
    entries: list[tuple[str, dict[str, Any]]] = []
    while queue and budget > 0:
        c = queue[0]
        want = c.total - c.done if budget == math.inf else min(c.total - c.done, max(1, math.ceil(budget / c.cs)))
        pieces = bank.take(want, c.cs, lo, hi)
        if not pieces:
            break
        for offset, k in pieces:
            entries.append((c.op, {"kind": c.kind, "replica": c.replica, "tile": f"{bank.name}.T{bank.tile(offset)}",
                                   "crossbar": offset % bank.per_tile, "crossbars": k * c.cs,
                                   "row_start": c.done, "row_slices": k, "col_slices": c.cs}))
            c.done += k
            budget -= k * c.cs
        if c.done == c.total:
            queue.popleft()
    return entries


def pending(hw: Hardware, op: Op) -> deque[Pending]:
    """Every copy of ``op``, kind by kind, replica by replica."""
    q: deque[Pending] = deque()
    for m, n in zip(matrices(op), copies_of(op), strict=True):
        rs, cs = slices(hw, m.shape)
        q.extend(Pending(op.name, m.kind, r, rs, cs) for r in range(n))
    return q


def place_anywhere(bank: Bank, queue: deque[Pending], lo: int = 0) -> list[tuple[str, dict]]:
    """From ``lo`` to the bank's end, then any gap left before it (first fit)."""
    return fill(bank, queue, lo, bank.capacity) + fill(bank, queue, 0, bank.capacity)


def check_placed(hw: Hardware, queue: deque[Pending], bank: Bank, phase: str, layer: str, demand: int) -> None:
    """One line when a part did not fit: phase, bank, layer, shortfall, and what would help."""
    if not queue:
        return
    left = sum((c.total - c.done) * c.cs for c in queue)
    short = max(left, demand - bank.capacity)
    raise LerganError(f"capacity exceeded: phase {phase} does not fit bank {bank.name}: layer {layer} is "
                      f"{short} crossbars short ({demand} needed by the phase, {bank.capacity} in a bank of "
                      f"{bank.tiles} tiles x {bank.per_tile}); try a lower --replica or a larger --hw")


# ---- annotations ---------------------------------------------------------------------------

def new_banks(hw: Hardware, phases: Iterable[str]) -> dict[str, Bank]:
    return {p: Bank(bank_of(p), hw.tiles_per_bank, hw.crossbars_per_tile) for p in phases}


def annotate(g: Graph, target: str, banks: dict[str, Bank], entries: list[tuple[str, dict]]) -> Graph:
    """``placement`` on every matrix op and the summary in ``g.meta['placement']``."""
    by_op: dict[str, list[dict[str, Any]]] = {}
    for name, e in entries:
        by_op.setdefault(name, []).append(e)
    for op in matrix_ops(g):
        copies = sorted(by_op.get(op.name, []), key=lambda e: (e["kind"], e["replica"], e["row_start"]))
        g.replace(op.replace(extra={**op.extra, "placement": {"bank": bank_of(op.phase), "copies": copies}}))
    tiles = {e["tile"] for _, e in entries}
    in_order = sorted(banks.items(), key=lambda pb: int(pb[1].name[1:]))
    g.meta["placement"] = {"target": target,
                           "phases": {p: {"banks": [b.name]} for p, b in in_order},
                           "crossbars_used": sum(e["crossbars"] for _, e in entries),
                           "tiles_used": len(tiles)}
    return g


def phases_present(ops: Iterable[Op]) -> list[str]:
    return list(dict.fromkeys(op.phase for op in ops))

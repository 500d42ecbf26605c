"""The pass ``replicate``: how many copies of every matrix (paper §V "Compiler", Table III, Eq. 14).

ZFDM ops (reshaped by zfdr or deform) follow Table III: Corner kinds get one copy, Edge kinds
``replica_e`` and Inside kinds ``replica_i``. The paper fixes replica_c = 1 "since reuse_c is 1"; where
the enumeration finds a Corner kind reused (W-CONV-S with S > 1 and P > 1: DCGAN's D_wgrad corners
cover 2 × 2 taps), it gets Edge copies, ``min(reuse, replica_e)``, else that kind alone sets the
layer's rounds whatever the degree (DCGAN D4 D_wgrad: 4 rounds per channel at middle and high).
``replica_e_max`` is the largest r for which the
*high* configuration (1, r, LL x r) still moves a layer's results no slower than it computes them,
t_t_total <= t_c_total, so low and middle (fewer copies: less to move, more to compute) meet it too:

- t_c_total = t_m x max over kinds of ceil(reuse / copies)  (the longest task decides);
- t_t_total = (ceil(layer_size / crossbars_per_tile) - 1) x t_t, layer_size in crossbars, and t_t
  the time to hand one sample's results of the op to the neighbour tile: ``Hardware.t_t_ns`` (one
  leaf-link word) times the words of the op's output.

r runs up to the largest Edge reuse (or LL when a layer has no Edge kinds, as deform's polyphase
kinds): past it more Edge copies do nothing. LL, the paper's loop length (Eq. 11), is taken as the
longest per-axis extent of the Inside kinds' output positions, which is what Eq. 11 measures for a
square T-CONV, and is defined for N-d, non-square and W-CONV cases alike. No kind ever gets more
copies than its reuse (an extra copy would have no output position to compute).

Normally mapped ops follow Eq. 14 with s_n = the op's crossbars and s_zf = the crossbars of the
replicated zero-free part of the same layer (its ZFDM ops in the other phases; s_n when it has
none): Fig. 14 duplicates the normal part so that the layer's parts in the three banks of its
3DCU match in size. Copies are capped at the matrix's MMV rounds.

If a phase needs more crossbars than its bank holds, copies are taken away (largest count
first) until it fits, with one warning line on stderr.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any, ClassVar

from lergan_cc.errors import LerganError, warn
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.options import REPLICAS, Options
from lergan_cc.passes._placement import (
    Matrix,
    bank_of,
    crossbars,
    hardware,
    is_zfdm,
    layer_key,
    matrices,
    matrix_ops,
)
from lergan_cc.passes._reshape import annotate
from lergan_cc.targets.hw import Hardware

# Table III: the kind class's role; deform's polyphase kinds are reused like Inside kinds.
ROLE = {"Corner": "c", "Edge": "e", "Inside": "i", "Polyphase": "i"}
# Table III rows: (replica_e, replica_i) from (replica_e_max, LL).
TABLE3: dict[str, Callable[[int, int], tuple[int, int]]] = {
    "low": lambda e, ll: (1, e),
    "middle": lambda e, ll: (e, e),
    "high": lambda e, ll: (e, ll * e),
}
# Eq. 14 from (s_zf, s_n).
EQ14: dict[str, Callable[[int, int], int]] = {
    "low": lambda zf, n: 1,
    "middle": lambda zf, n: math.ceil(zf / (2 * n)),
    "high": lambda zf, n: math.ceil(zf / n),
}


def loop_length(ms: list[Matrix], rects: list[dict[str, Any]]) -> int:
    """LL: the most output positions an Inside kind covers along one axis (1 without Inside kinds)."""
    extents = [len({s + step * j for s, step, count in (rect["ranges"][axis] for rect in r) for j in range(count)})
               for m, r in zip(ms, rects, strict=True) if ROLE.get(m.cls) == "i" and r
               for axis in range(len(r[0]["ranges"]))]
    return max(extents, default=1)


def table3_copies(ms: list[Matrix], e: int, i: int) -> list[int]:
    """Copies per kind; a Corner kind is normally reused once, so its ``e`` copies are capped to 1."""
    by_role = {"c": e, "e": e, "i": i}
    return [max(1, min(m.reuse, by_role[ROLE.get(m.cls, "c")])) for m in ms]


def words(hw: Hardware, op: Op) -> int:
    """Leaf-link words of one sample's results of ``op``: what crosses each tile boundary."""
    return math.ceil(math.prod(op.shape) * hw.precision.output_bits / hw.htree_hop(hw.htree_depth).width_bits)


def balanced(hw: Hardware, ms: list[Matrix], copies: list[int], moved: int) -> bool:
    """t_t_total <= t_c_total for these copies (paper §V), ``moved`` words per tile hop."""
    size = sum(n * crossbars(hw, m.shape) for m, n in zip(ms, copies, strict=True))
    t_t = (math.ceil(size / hw.crossbars_per_tile) - 1) * hw.t_t_ns * moved
    # a layer with no kind at all (every output position beyond the input's reach) computes nothing
    t_c = hw.t_m_ns * max((math.ceil(m.reuse / n) for m, n in zip(ms, copies, strict=True)), default=0)
    return t_t <= t_c


def replica_e_max(hw: Hardware, ms: list[Matrix], ll: int, moved: int) -> int:
    edges = [m.reuse for m in ms if ROLE.get(m.cls) == "e"]
    best = 1
    for r in range(1, max(edges, default=ll) + 1):
        if not balanced(hw, ms, table3_copies(ms, r, ll * r), moved):
            break
        best = r
    return best


def table3(hw: Hardware, op: Op, degree: str) -> dict[str, Any]:
    ms = matrices(op)
    ll = loop_length(ms, [k["rects"] for k in op.extra["reshape"]["kinds"]])
    e_max = replica_e_max(hw, ms, ll, words(hw, op))
    e, i = TABLE3[degree](e_max, ll)
    return {"degree": degree, "rule": "table3", "per_kind": table3_copies(ms, e, i), "e_max": e_max,
            "loop_length": ll}


def eq14(hw: Hardware, op: Op, degree: str, s_zf: int | None) -> dict[str, Any]:
    (m,) = matrices(op)
    s_n = crossbars(hw, m.shape)
    n = EQ14[degree](s_zf or s_n, s_n)
    return {"degree": degree, "rule": "eq14", "per_kind": [max(1, min(n, m.reuse))]}


def size(hw: Hardware, op: Op, per_kind: list[int]) -> int:
    return sum(n * crossbars(hw, m.shape) for m, n in zip(matrices(op), per_kind, strict=True))


def assign(hw: Hardware, ops: list[Op], degree: str) -> dict[str, dict[str, Any]]:
    """Table III for the ZFDM ops first, then Eq. 14 sized against them."""
    if degree == "none":
        return {op.name: {"degree": "none", "rule": "one", "per_kind": [1] * len(matrices(op))} for op in ops}
    out = {op.name: table3(hw, op, degree) for op in ops if is_zfdm(op)}
    s_zf: dict[tuple[str, str], int] = {}
    for op in ops:
        if op.name in out:
            key = layer_key(op)
            s_zf[key] = max(s_zf.get(key, 0), size(hw, op, out[op.name]["per_kind"]))
    out.update({op.name: eq14(hw, op, degree, s_zf.get(layer_key(op))) for op in ops if op.name not in out})
    return out


def budget(hw: Hardware, ops: list[Op]) -> int:
    """A bank's crossbars less one row slice per tile, the most a placer may lose to slices that
    cannot straddle tiles."""
    widest = max((crossbars(hw, (1, 1, m.shape[2])) for op in ops for m in matrices(op)), default=1)
    return hw.crossbars_per_bank - hw.tiles_per_bank * (min(widest, hw.crossbars_per_tile) - 1)


def fit_bank(hw: Hardware, ops: list[Op], rep: dict[str, dict[str, Any]], phase: str) -> None:
    """Take copies away, largest count first, until the phase fits its bank; warn once."""
    cap = budget(hw, ops)
    need = sum(size(hw, op, rep[op.name]["per_kind"]) for op in ops)
    if need <= cap:
        return
    before = need
    heap = [(-n, -crossbars(hw, m.shape), op.name, j) for op in ops
            for j, (m, n) in enumerate(zip(matrices(op), rep[op.name]["per_kind"], strict=True)) if n > 1]
    heapq.heapify(heap)
    reduced: dict[str, list[int]] = {}
    by_name = {op.name: op for op in ops}
    while need > cap and heap:
        neg_n, neg_size, name, j = heapq.heappop(heap)
        rep[name]["per_kind"][j] -= 1
        need += neg_size
        reduced.setdefault(by_name[name].layer, []).append(j)
        if -neg_n - 1 > 1:
            heapq.heappush(heap, (neg_n + 1, neg_size, name, j))
    if not reduced:
        return  # nothing left to take away: the placer reports the shortfall
    which = "; ".join(f"{layer} kinds {sorted(set(ks))}" for layer, ks in reduced.items())
    warn(f"lergan_cc: warning: replicate: phase {phase} needs {before} crossbars with these replicas, bank "
         f"{bank_of(phase)} has room for {cap}: fewer copies of {which} (now {need})")


class Replicate:
    name: ClassVar[str] = "replicate"

    def apply(self, g: Graph | None, options: Options) -> Graph:
        assert g is not None
        degree = options.replica_degree(g.meta)
        if degree not in REPLICAS:
            raise LerganError(f"replica degree '{degree}': expected one of {', '.join(REPLICAS)}")
        hw = hardware(options)
        ops = matrix_ops(g)
        rep = assign(hw, ops, degree)
        for phase in dict.fromkeys(op.phase for op in ops):
            fit_bank(hw, [op for op in ops if op.phase == phase], rep, phase)
        for op in ops:
            annotate(g, op, "replicas", rep[op.name])
        return g

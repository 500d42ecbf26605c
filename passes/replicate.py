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
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import ReplicaDegree, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.mapping.matrices import Matrix, bank_budget, bank_of, crossbars, is_zfdm, layer_key, matrices, matrix_ops
from lergan_cc.options import REPLICAS, Options
from lergan_cc.pass_base import Pass
from lergan_cc.targets.hw import Hardware

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext

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


def loop_length(op: Op) -> int:
    """LL: the most output positions an Inside kind covers along one axis (1 without Inside kinds)."""
    plan = op.need(Reshape).plan
    kinds = getattr(plan, "kinds", ())
    extents = [len({p for rect in k.rectangles for p in rect.ranges[axis].positions()})
               for k in kinds if ROLE.get(k.cls) == "i" and k.rectangles
               for axis in range(len(k.rectangles[0].ranges))]
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


def table3(hw: Hardware, op: Op, degree: str) -> Replicas:
    ms = matrices(op)
    ll = loop_length(op)
    e_max = replica_e_max(hw, ms, ll, words(hw, op))
    e, i = TABLE3[degree](e_max, ll)
    return Replicas(degree, "table3", tuple(table3_copies(ms, e, i)), e_max, ll)


def eq14(hw: Hardware, op: Op, degree: str, s_zf: int | None) -> Replicas:
    (m,) = matrices(op)
    s_n = crossbars(hw, m.shape)
    n = EQ14[degree](s_zf or s_n, s_n)
    return Replicas(degree, "eq14", (max(1, min(n, m.reuse)),))


def size(hw: Hardware, op: Op, per_kind: list[int] | tuple[int, ...]) -> int:
    return sum(n * crossbars(hw, m.shape) for m, n in zip(matrices(op), per_kind, strict=True))


def assign(hw: Hardware, ops: list[Op], degree: str) -> dict[str, Replicas]:
    """Table III for the ZFDM ops first, then Eq. 14 sized against them."""
    if degree == "none":
        return {op.name: Replicas("none", "one", (1,) * len(matrices(op))) for op in ops}
    out = {op.name: table3(hw, op, degree) for op in ops if is_zfdm(op)}
    s_zf: dict[tuple[str, str], int] = {}
    for op in ops:
        if op.name in out:
            key = layer_key(op)
            s_zf[key] = max(s_zf.get(key, 0), size(hw, op, out[op.name].per_kind))
    out.update({op.name: eq14(hw, op, degree, s_zf.get(layer_key(op))) for op in ops if op.name not in out})
    return out


def fit_bank(hw: Hardware, ops: list[Op], rep: dict[str, Replicas], phase: str) -> str | None:
    """Take copies away, largest count first, until the phase fits its bank; the warning to give, if any."""
    cap = bank_budget(hw, ops)
    counts = {op.name: list(rep[op.name].per_kind) for op in ops}
    need = sum(size(hw, op, counts[op.name]) for op in ops)
    if need <= cap:
        return None
    before = need
    heap = [(-n, -crossbars(hw, m.shape), op.name, j) for op in ops
            for j, (m, n) in enumerate(zip(matrices(op), counts[op.name], strict=True)) if n > 1]
    heapq.heapify(heap)
    reduced: dict[str, list[int]] = {}
    by_name = {op.name: op for op in ops}
    while need > cap and heap:
        neg_n, neg_size, name, j = heapq.heappop(heap)
        counts[name][j] -= 1
        need += neg_size
        reduced.setdefault(by_name[name].layer, []).append(j)
        if -neg_n - 1 > 1:
            heapq.heappush(heap, (neg_n + 1, neg_size, name, j))
    for op in ops:
        rep[op.name] = Replicas(rep[op.name].degree, rep[op.name].rule, tuple(counts[op.name]), rep[op.name].e_max,
                                rep[op.name].loop_length)
    if not reduced:
        return None  # nothing left to take away: the placer reports the shortfall
    which = "; ".join(f"{layer} kinds {sorted(set(ks))}" for layer, ks in reduced.items())
    return (f"replicate: phase {phase} needs {before} crossbars with these replicas, bank {bank_of(phase)} has "
            f"room for {cap}: fewer copies of {which} (now {need})")


@dataclass(frozen=True)
class Replicate(Pass):
    """``degree``: the replica degree (``None``: the model's ``replica_degree``, else low)."""

    name: ClassVar[str] = "replicate"
    requires = (Reshape,)
    provides = (Replicas,)
    degree: str | None = None

    def __post_init__(self) -> None:
        if self.degree is not None and self.degree not in REPLICAS:
            raise LerganError(f"replica degree '{self.degree}': expected one of {', '.join(REPLICAS)}")

    @classmethod
    def from_options(cls, options: Options) -> Replicate:
        return cls(options.replica)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        model = g.get(ReplicaDegree)
        degree = self.degree or (model.degree if model else None) or "low"
        hw = ctx.hw
        ops = matrix_ops(g)
        rep = assign(hw, ops, degree)
        for phase in dict.fromkeys(op.phase for op in ops):
            warning = fit_bank(hw, [op for op in ops if op.phase == phase], rep, phase)
            if warning:
                ctx.warn(warning)
        for op in ops:
            g.update(op, rep[op.name])
        return g

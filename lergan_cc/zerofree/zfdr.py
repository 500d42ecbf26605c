"""Exact enumeration of zero-free kinds (LerGAN ZFDR_T / ZFDR_WS) and of ZARA-style sub-kernels.

DESIGN §5: "Enumerate; do not trust closed forms." Per axis, every result position
gets its tap set (:meth:`AxisRelation.useful`); positions with equal tap sets are
grouped; an N-d kind is one choice of group per axis (the N-d tap set is the product
of the per-axis ones, and distinct non-empty per-axis sets give distinct products),
its reuse is the product of the group sizes and its positions the product of the
per-axis progressions. Cost: O(sum of axis lengths * taps) plus the number of kinds,
whatever the image size.

``zfdr`` groups by the useful tap set (no zero is ever multiplied). ``deform`` groups
by the full residue class instead (ZARA's polyphase sub-kernels: ``S^d`` of them for a
T-CONV, applied to the undilated input), so it still multiplies the padding zeros at
the borders.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from lergan_cc.zerofree.axis import AxisRelation, Progression, progressions, relations
from lergan_cc.zerofree.geometry import ConvGeometry
from lergan_cc.zerofree.plan import AxisMap, Kind, KindClass, Rectangle, ReshapePlan, Scheme


@dataclass(frozen=True)
class AxisGroup:
    """Positions of one axis sharing one tap set."""

    taps: tuple[int, ...]
    border: bool
    positions: tuple[int, ...]
    ranges: tuple[Progression, ...]


def axis_groups(rel: AxisRelation, key: Callable[[int], tuple[int, ...]]) -> tuple[list[AxisGroup], list[int]]:
    """Group the positions of one axis by ``key(p)``; also return the positions whose key is empty."""
    by: dict[tuple[int, ...], list[int]] = {}
    border: dict[tuple[int, ...], bool] = {}
    empty: list[int] = []
    for p in range(rel.n_out):
        taps = key(p)
        if not taps:
            empty.append(p)
            continue
        by.setdefault(taps, []).append(p)
        border[taps] = border.get(taps, False) or rel.useful(p) != rel.aligned(p)
    groups = [AxisGroup(t, border[t], tuple(ps), progressions(ps)) for t, ps in by.items()]
    groups.sort(key=lambda grp: grp.positions[0])
    return groups, empty


def _axis_map(rel: AxisRelation, prog: Progression, taps: tuple[int, ...]) -> AxisMap:
    for t in taps:
        assert rel.rhs(prog.start, t) % rel.delta == 0, "tap not aligned with its position"
    a = 0
    if prog.count > 1:
        assert (rel.alpha * prog.step) % rel.delta == 0, "positions of one kind span residue classes"
        a = rel.alpha * prog.step // rel.delta
    return AxisMap(a, tuple(rel.index(prog.start, t) for t in taps))


def _classify(border: tuple[bool, ...], scheme: Scheme) -> KindClass:
    if scheme == "deform":
        return "Polyphase"
    if not any(border):
        return "Inside"
    return "Corner" if all(border) else "Edge"


def _plan(g: ConvGeometry, scheme: Scheme) -> ReshapePlan:
    rels = relations(g)
    per_axis = [axis_groups(r, r.useful if scheme == "zfdr" else r.aligned) for r in rels]
    kinds: list[Kind] = []
    for choice in itertools.product(*(groups for groups, _ in per_axis)):
        rects = []
        for box in itertools.product(*(grp.ranges for grp in choice)):
            maps = tuple(_axis_map(r, prog, grp.taps) for r, prog, grp in zip(rels, box, choice, strict=True))
            rects.append(Rectangle(tuple(box), maps))
        border = tuple(grp.border for grp in choice)
        padded = any(any(not 0 <= b + m.a * j < r.n_in for b in m.b for j in (0, prog.count - 1))
                     for rect in rects for r, prog, m in zip(rels, rect.ranges, rect.maps, strict=True))
        kinds.append(Kind(0, _classify(border, scheme), tuple(grp.taps for grp in choice), border,
                          math.prod(len(grp.positions) for grp in choice), tuple(rects), padded))
    kinds.sort(key=lambda k: tuple(k.rectangles[0].ranges[a].start for a in range(g.rank)))
    kinds = [Kind(i, k.cls, k.taps, k.border, k.reuse, k.rectangles, k.padded) for i, k in enumerate(kinds)]
    return ReshapePlan(scheme, g, tuple(kinds), _empty_boxes(rels, per_axis))


def _empty_boxes(rels: tuple[AxisRelation, ...], per_axis: list[tuple[list[AxisGroup], list[int]]]
                 ) -> tuple[tuple[Progression, ...], ...]:
    """Result positions with no tap: those with an empty tap set on at least one axis.

    Disjoint cover: for the first empty axis ``a``, axes before it are non-empty and
    axes after it are unrestricted.
    """
    boxes: list[tuple[Progression, ...]] = []
    for a, (_, empty) in enumerate(per_axis):
        if not empty:
            continue
        before = [[p for grp in per_axis[b][0] for p in grp.positions] for b in range(a)]
        axes = [progressions(sorted(ps)) for ps in before]
        axes.append(progressions(empty))
        axes += [(Progression(0, 1, rels[b].n_out),) for b in range(a + 1, len(rels))]
        boxes.extend(itertools.product(*axes))
    return tuple(boxes)


def zfdr(g: ConvGeometry) -> ReshapePlan:
    """LerGAN Zero-Free Data Reshaping of one layer: ZFDR_T for ``tconv`` (and ``sconv``,
    where only padding zeros are removed), ZFDR_WS for ``wconv`` and its mirror for ``wconv_t``.

    Every kind multiplies only real values: ``zfdr(g).macs == analyze(g).macs_useful``.
    """
    return _plan(g, "zfdr")


def deform(g: ConvGeometry) -> ReshapePlan:
    """ZARA-style polyphase decomposition: one sub-kernel per residue class (at most ``S^d``),
    sliding over the undilated input; border windows still multiply padding zeros.
    """
    return _plan(g, "deform")

"""Reshaped forms of one layer: kinds, their output rectangles and affine input windows.

A :class:`ReshapePlan` is what the ``zfdr`` and ``deform`` passes produce and what the
FSM program encodes: a list of :class:`Kind` (one crossbar matrix each), every kind
covering a set of result positions given as strided rectangles, and, per rectangle and
axis, the affine map ``index = a*j + b[tap]`` from the rectangle counter ``j`` to the
streamed-operand index each tap reads. Nothing in it depends on the IR.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from lergan_cc.zerofree.axis import Progression
from lergan_cc.zerofree.geometry import ConvGeometry

KindClass = Literal["Corner", "Edge", "Inside", "Polyphase"]
Scheme = Literal["zfdr", "deform"]


@dataclass(frozen=True)
class AxisMap:
    """Streamed-operand index read by each tap along one axis of one rectangle.

    ``index(j, tap_number) = a*j + b[tap_number]`` for ``j`` in ``range(count)``; for a
    weight-gradient kind the index is into ``x`` and the taps are ``dy`` positions.
    """

    a: int
    b: tuple[int, ...]


@dataclass(frozen=True)
class Rectangle:
    """A strided box of result positions with its affine input window."""

    ranges: tuple[Progression, ...]
    maps: tuple[AxisMap, ...]

    @property
    def size(self) -> int:
        return math.prod(r.count for r in self.ranges)

    def positions(self) -> Iterator[tuple[int, ...]]:
        return itertools.product(*(r.positions() for r in self.ranges))


@dataclass(frozen=True)
class Kind:
    """One reshaped matrix: a distinct N-d tap set and the result positions that use it.

    ``taps[a]`` is the axis-``a`` tap set (kernel taps in ONNX, i.e. unflipped,
    coordinates for ``tconv``/``sconv``; ``dy`` positions for ``wconv``/``wconv_t``).
    ``border[a]`` says whether that tap set is short of its full residue class.
    ``padded`` is True when some index lies outside the operand (``deform`` only): the
    executor then multiplies a padding zero.
    """

    index: int
    cls: KindClass
    taps: tuple[tuple[int, ...], ...]
    border: tuple[bool, ...]
    reuse: int
    rectangles: tuple[Rectangle, ...]
    padded: bool = False

    @property
    def n_taps(self) -> int:
        return math.prod(len(t) for t in self.taps)

    def positions(self) -> Iterator[tuple[int, ...]]:
        for r in self.rectangles:
            yield from r.positions()


@dataclass(frozen=True)
class PlanStats:
    """The ``zfdr`` block of DESIGN §8 plus storage figures (one sample)."""

    kinds: int
    corner: int
    edge: int
    inside: int
    max_reuse: int
    rounds: int
    rounds_without: int
    stored_matrix_values: int
    stored_matrix_values_normal: int
    macs: int

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ReshapePlan:
    """All kinds of one layer under one scheme, plus the result positions nothing reaches.

    ``empty`` lists rectangles of result positions with no useful tap at all (e.g.
    kernel smaller than stride); their value is 0 (plus bias) and they cost no MMV.
    """

    scheme: Scheme
    geometry: ConvGeometry
    kinds: tuple[Kind, ...]
    empty: tuple[tuple[Progression, ...], ...]

    def matrix_shape(self, kind: Kind) -> tuple[int, int, int]:
        """``(groups, rows, cols)`` of a kind's matrix.

        Forward kinds: rows = (input channel of the group, tap) pairs, cols = output
        channels of the group. Weight-gradient kinds: rows = ``dy`` positions, cols =
        output channels of the group (one such matrix per sample).
        """
        g = self.geometry
        rows = kind.n_taps if g.is_wgrad else g.in_per_group * kind.n_taps
        return g.group, rows, g.out_per_group

    def vectors_per_position(self) -> int:
        """MMVs per result position per group: 1, or one per input channel for a weight gradient."""
        return self.geometry.in_per_group if self.geometry.is_wgrad else 1

    def kind_macs(self, kind: Kind) -> int:
        gr, rows, cols = self.matrix_shape(kind)
        return gr * rows * cols * kind.reuse * self.vectors_per_position()

    @property
    def macs(self) -> int:
        """Multiplications per sample (== ``analyze(g).macs_useful`` for ``zfdr``)."""
        return sum(self.kind_macs(k) for k in self.kinds)

    def stats(self) -> PlanStats:
        return self._stats

    @cached_property  # the plan is immutable; the verifier asks after every pass (~150 times per compile)
    def _stats(self) -> PlanStats:
        g = self.geometry
        count = {c: sum(1 for k in self.kinds if k.cls == c) for c in ("Corner", "Edge", "Inside")}
        max_reuse = max((k.reuse for k in self.kinds), default=0)
        stored = sum(math.prod(self.matrix_shape(k)) for k in self.kinds)
        if g.is_wgrad:
            normal = g.out_channels * math.prod(g.output_size)
        else:
            normal = g.group * g.in_per_group * g.out_per_group * math.prod(g.kernel)
        return PlanStats(len(self.kinds), count["Corner"], count["Edge"], count["Inside"], max_reuse, max_reuse,
                         math.prod(g.result_size), stored, normal, self.macs)

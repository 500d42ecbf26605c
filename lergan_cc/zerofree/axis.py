"""Per-axis index algebra shared by every reshaping scheme.

Each of the four convolution kinds is, along one spatial axis, a relation between a
*result position* ``p`` (an output position, or a kernel tap for a weight gradient), a
*tap* ``t`` (a kernel tap, or a ``dy`` position for a weight gradient) and the index
``i`` of the *streamed* operand ``x`` it reads::

    delta * i = alpha * p + beta * t + gamma,     0 <= i < n_in

======== =========== =========== ========= ========= ======= ========
kind     p           t           alpha     beta      gamma   delta
======== =========== =========== ========= ========= ======= ========
tconv    output o    kernel k    1         -d        pb      s
sconv    output o    kernel k    s         d         -pb     1
wconv    kernel k    dy pos o    d         s         -pb     1
wconv_t  kernel k    dy pos o    -d        1         pb      s
======== =========== =========== ========= ========= ======= ========

A tap is *aligned* with ``p`` when ``delta`` divides the right-hand side (for a
T-CONV: the tap does not land on an inserted zero); it is *useful* when in addition
``i`` is in range (it does not land on a padding zero). The aligned taps of ``p`` are
its full residue class; the useful ones are its tap set. Zero-free reshaping is
nothing but grouping result positions by their tap set, which is why the whole of it
fits in this module plus a product over axes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.zerofree.geometry import ConvGeometry


@dataclass(frozen=True)
class Progression:
    """The positions ``start, start+step, ..., start+(count-1)*step`` (``step >= 1``)."""

    start: int
    step: int
    count: int

    def positions(self) -> list[int]:
        return [self.start + j * self.step for j in range(self.count)]

    def as_slice(self) -> slice:
        return slice(self.start, self.start + (self.count - 1) * self.step + 1, self.step)


@dataclass(frozen=True)
class AxisRelation:
    """``delta * i = alpha * p + beta * t + gamma`` on one axis, with the three ranges."""

    alpha: int
    beta: int
    gamma: int
    delta: int
    n_out: int
    n_tap: int
    n_in: int

    def rhs(self, p: int, t: int) -> int:
        return self.alpha * p + self.beta * t + self.gamma

    def aligned(self, p: int) -> tuple[int, ...]:
        """The full residue class of taps of ``p`` (taps not landing on inserted zeros)."""
        return tuple(t for t in range(self.n_tap) if self.rhs(p, t) % self.delta == 0)

    def index(self, p: int, t: int) -> int:
        """Streamed-operand index read by tap ``t`` at ``p`` (only meaningful if aligned)."""
        return self.rhs(p, t) // self.delta

    def useful(self, p: int) -> tuple[int, ...]:
        """The tap set of ``p``: aligned taps whose index is inside the operand."""
        return tuple(t for t in self.aligned(p) if 0 <= self.index(p, t) < self.n_in)


def axis_relation(g: ConvGeometry, a: int) -> AxisRelation:
    """The relation of axis ``a`` of ``g`` (see the module table)."""
    s, d, pb = g.stride[a], g.dilation[a], g.pads[a]
    i, k, o = g.input_size[a], g.kernel[a], g.output_size[a]
    if g.kind == "tconv":
        return AxisRelation(1, -d, pb, s, o, k, i)
    if g.kind == "sconv":
        return AxisRelation(s, d, -pb, 1, o, k, i)
    if g.kind == "wconv":
        return AxisRelation(d, s, -pb, 1, k, o, i)
    return AxisRelation(-d, 1, pb, s, k, o, i)


def relations(g: ConvGeometry) -> tuple[AxisRelation, ...]:
    return tuple(axis_relation(g, a) for a in range(g.rank))


def progressions(positions: list[int]) -> tuple[Progression, ...]:
    """Cover a sorted list of distinct positions by maximal arithmetic progressions, greedily.

    Zero-free kinds are almost always one progression per axis (interior positions of
    one residue class) or a single position (a border); the greedy cover keeps the
    representation exact for the irregular cases too (dilation sharing a factor with
    the stride, tiny inputs).
    """
    out: list[Progression] = []
    j = 0
    while j < len(positions):
        if j + 1 == len(positions):
            out.append(Progression(positions[j], 1, 1))
            break
        step = positions[j + 1] - positions[j]
        n = 2
        while j + n < len(positions) and positions[j + n] - positions[j + n - 1] == step:
            n += 1
        out.append(Progression(positions[j], step, n))
        j += n
    return tuple(out)

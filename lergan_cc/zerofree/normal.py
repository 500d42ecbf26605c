"""``normal-reshape``: the PRIME-like baseline, one im2col matrix over the zero-inserted input.

Zeros are materialised, exactly as an accelerator without zero-free support would store
them: the T-CONV input is zero-inserted and padded (``S-1`` zeros between values,
``(K-1)d - pb`` before, ``(K-1)d - pe + op`` after) and the flipped kernel slides over
it with stride 1; a ``wconv`` uses the dilated ``dy`` (``s(O-1)+1+R``) as the matrix over
the padded input. Its MACs are ``analyze(g).macs_zero_inserted``.

:func:`streamed_operand` builds that array and :func:`index_grids` the per-axis
``(result position, tap) -> index`` grids; :mod:`lergan_cc.zerofree.executor` does the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lergan_cc.zerofree.analysis import analyze, dilated_gradient_length, zero_inserted_length
from lergan_cc.zerofree.geometry import ConvGeometry


@dataclass(frozen=True)
class NormalPlan:
    """One matrix for the whole layer: ``(groups, rows, cols)``, used at every result position."""

    geometry: ConvGeometry
    groups: int
    rows: int
    cols: int
    rounds: int

    @property
    def macs(self) -> int:
        """Per sample; equals ``analyze(geometry).macs_zero_inserted``."""
        g = self.geometry
        return self.groups * self.rows * self.cols * self.rounds * (g.in_per_group if g.is_wgrad else 1)


def tap_extent(g: ConvGeometry) -> tuple[int, ...]:
    """Taps per axis of the normal matrix: the kernel, or the dilated/plain ``dy`` for a weight gradient."""
    if g.kind == "wconv":
        return tuple(dilated_gradient_length(g, a) for a in range(g.rank))
    if g.kind == "wconv_t":
        return g.output_size
    return g.kernel


def normal_reshape(g: ConvGeometry) -> NormalPlan:
    taps = math.prod(tap_extent(g))
    rows = taps if g.is_wgrad else g.in_per_group * taps
    plan = NormalPlan(g, g.group, rows, g.out_per_group, math.prod(g.result_size))
    assert plan.macs == analyze(g).macs_zero_inserted
    return plan


def _zero_insert(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The zero-inserted, padded input of a transposed kind (negative pads crop)."""
    n = g.rank
    out = np.zeros(x.shape[:2] + tuple(zero_inserted_length(g, a) for a in range(n)), dtype=x.dtype)
    src, dst = [], []
    for a in range(n):
        pos = g.stride[a] * np.arange(g.input_size[a]) + (g.kernel[a] - 1) * g.dilation[a] - g.pads[a]
        ok = (pos >= 0) & (pos < out.shape[2 + a])
        src.append(np.nonzero(ok)[0])
        dst.append(pos[ok])
    into: tuple[Any, ...] = (slice(None), slice(None), *np.ix_(*dst))
    read: tuple[Any, ...] = (slice(None), slice(None), *np.ix_(*src))
    out[into] = x[read]
    return out


def _pad(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    n = g.rank
    return np.pad(x, [(0, 0), (0, 0)] + [(g.pads[a], g.pads[a + n]) for a in range(n)])


def streamed_operand(g: ConvGeometry, x: np.ndarray) -> np.ndarray:
    """The array the normal mapping streams: zero-inserted (transposed kinds) or padded input."""
    return _zero_insert(x, g) if g.transposed else _pad(x, g)


def dilated_gradient(g: ConvGeometry, dy: np.ndarray) -> np.ndarray:
    """``dy`` of a ``wconv`` with ``s-1`` zeros between values and ``R`` at the end (Eq 9)."""
    shape = dy.shape[:2] + tuple(dilated_gradient_length(g, a) for a in range(g.rank))
    out = np.zeros(shape, dtype=dy.dtype)
    out[(slice(None), slice(None), *(slice(None, None, s) for s in g.stride))][
        (slice(None), slice(None), *(slice(0, o) for o in g.output_size))] = dy
    return out


def index_grids(g: ConvGeometry) -> tuple[np.ndarray, ...]:
    """Per axis, the ``(result position, tap)`` -> streamed-array index grid of the normal mapping."""
    grids = []
    for a, taps in enumerate(tap_extent(g)):
        d, k = g.dilation[a], g.kernel[a]
        p = np.arange(g.result_size[a])[:, None]
        t = np.arange(taps)[None, :]
        if g.kind == "tconv":  # output o, kernel tap k reads z[o + d(K-1-k)] (flipped kernel)
            grids.append(p + d * (k - 1 - t))
        elif g.kind == "sconv":
            grids.append(g.stride[a] * p + d * t)
        elif g.kind == "wconv":  # kernel tap k, dilated-dy position q reads xpad[d k + q]
            grids.append(d * p + t)
        else:  # kernel tap k, dy position o reads z[o + d(K-1-k)]
            grids.append(t + d * (k - 1 - p))
    return tuple(grids)

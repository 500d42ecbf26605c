"""Reference executor: applies a reshaped form to real tensors and counts the MACs it performs.

It is the functional model of what the crossbars do: for every kind, every rectangle of
result positions, gather the streamed vectors through the affine index maps, multiply
them by the kind's matrix (one MMV per position and vector), and scatter the results.
Vectorised over batch, channels and the positions of a rectangle; the MAC count is the
product of the contracted extents, i.e. what the hardware would multiply, zeros
included (``deform`` border windows, ``normal`` inserted zeros).

Operands: ``x`` is the layer input (B, C, I...). ``operand`` is the ONNX weight for
``tconv``/``sconv`` and ``dy`` (B, M, O...) for ``wconv``/``wconv_t``. Results: ``y``
(B, M, O...) or the weight gradient, summed over the batch, in ONNX weight layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lergan_cc.zerofree.geometry import ConvGeometry
from lergan_cc.zerofree.matrices import kind_matrix
from lergan_cc.zerofree.normal import NormalPlan, dilated_gradient, index_grids, streamed_operand
from lergan_cc.zerofree.plan import Rectangle, ReshapePlan


@dataclass(frozen=True)
class Execution:
    """The result tensor and the multiplications performed to get it (all samples)."""

    result: np.ndarray
    macs: int


def gather(x: np.ndarray, grids: tuple[np.ndarray, ...]) -> np.ndarray:
    """``x[b, c, grids_1[p1, t1], ..., grids_n[pn, tn]]`` -> ``(B, C, p1..pn, t1..tn)``."""
    n = len(grids)
    idx = []
    for a, grid in enumerate(grids):
        shape = [1] * (2 * n)
        shape[a], shape[n + a] = grid.shape
        idx.append(grid.reshape(shape))
    index: tuple[Any, ...] = (slice(None), slice(None), *idx)
    return x[index]


def rectangle_grids(rect: Rectangle, sizes: tuple[int, ...], padded: bool) -> tuple[np.ndarray, ...]:
    """Per-axis index grids of a rectangle; out-of-range reads go to the zero slot ``sizes[a]``."""
    grids = []
    for prog, amap, n_in in zip(rect.ranges, rect.maps, sizes, strict=True):
        grid = amap.a * np.arange(prog.count)[:, None] + np.asarray(amap.b)[None, :]
        bad = (grid < 0) | (grid >= n_in)
        if bad.any():
            if not padded:
                raise AssertionError("a zero-free kind reads outside its operand")
            grid = np.where(bad, n_in, grid)
        grids.append(grid)
    return tuple(grids)


def _contract(g: ConvGeometry, xs: np.ndarray, mat: np.ndarray) -> tuple[np.ndarray, int]:
    """Multiply gathered vectors by the kind matrix; return ``(B, M, p...)`` or ``(weight layout, p...)``.

    ``xs`` is ``(B, C, p1..pn, t1..tn)``; ``mat`` is ``(g, C/g*T, M/g)`` (forward) or
    ``(B, g, T, M/g)`` (weight gradient).
    """
    n, b = g.rank, xs.shape[0]
    counts = xs.shape[2:2 + n]
    p, t = math.prod(counts), math.prod(xs.shape[2 + n:])
    gr, cg, mg = g.group, g.in_per_group, g.out_per_group
    v = xs.reshape(b, gr, cg, p, t)
    if not g.is_wgrad:  # MMV: one (cg*T)-vector per (sample, position) times a (cg*T, mg) matrix
        v = v.transpose(0, 1, 3, 2, 4).reshape(b, gr, p, cg * t)
        out = np.matmul(v, mat)  # (B, g, P, mg)
        res = out.transpose(0, 1, 3, 2).reshape(b, gr * mg, *counts)
        return res, b * gr * p * cg * t * mg
    # weight gradient: one T-vector per (sample, channel, position) times dy's (T, mg) matrix, summed over samples
    v = v.transpose(1, 2, 3, 0, 4).reshape(gr, cg * p, b * t)
    d = mat.transpose(1, 0, 2, 3).reshape(gr, b * t, mg)
    out = np.matmul(v, d).reshape(gr, cg, p, mg)
    if g.kind == "wconv":  # (M, C/g, K...)
        res = out.transpose(0, 3, 1, 2).reshape(gr * mg, cg, *counts)
    else:  # (C, M/g, K...)
        res = out.transpose(0, 1, 3, 2).reshape(gr * cg, mg, *counts)
    return res, b * gr * cg * p * t * mg


def _result(g: ConvGeometry, batch: int, dtype: np.dtype) -> np.ndarray:
    if g.is_wgrad:
        return np.zeros(g.weight_shape, dtype=dtype)
    return np.zeros((batch, g.out_channels, *g.output_size), dtype=dtype)


def execute_plan(plan: ReshapePlan, x: np.ndarray, operand: np.ndarray) -> Execution:
    """Run a ``zfdr`` or ``deform`` plan: kinds through their index maps and matrices."""
    g = plan.geometry
    _check_input(g, x)
    xz = np.pad(x, [(0, 0), (0, 0)] + [(0, 1)] * g.rank)  # trailing zero slot for padded reads
    dtype = np.result_type(x, operand)
    res = _result(g, x.shape[0], dtype)
    macs = 0
    for kind in plan.kinds:
        mat = kind_matrix(g, operand, kind.taps)
        for rect in kind.rectangles:
            xs = gather(xz, rectangle_grids(rect, g.input_size, kind.padded))
            out, m = _contract(g, xs, mat)
            res[(slice(None), slice(None), *(r.as_slice() for r in rect.ranges))] = out
            macs += m
    return Execution(res, macs)


def execute_normal(plan: NormalPlan, x: np.ndarray, operand: np.ndarray) -> Execution:
    """Run the one-matrix im2col mapping over the materialised zero-inserted operands."""
    g = plan.geometry
    _check_input(g, x)
    streamed = streamed_operand(g, x)
    mat: np.ndarray
    if g.kind == "tconv":  # rows (c, k) with k in ONNX order; index_grids reads the flipped position
        mat = operand.reshape(g.group, g.in_per_group, g.out_per_group, -1).transpose(0, 1, 3, 2)
        mat = mat.reshape(g.group, -1, g.out_per_group)
    elif g.kind == "sconv":
        mat = operand.reshape(g.group, g.out_per_group, g.in_per_group, -1).transpose(0, 2, 3, 1)
        mat = mat.reshape(g.group, -1, g.out_per_group)
    else:
        dy = dilated_gradient(g, operand) if g.kind == "wconv" else operand
        b = dy.shape[0]
        mat = dy.reshape(b, g.group, g.out_per_group, -1).transpose(0, 1, 3, 2)
    out, macs = _contract(g, gather(streamed, index_grids(g)), mat)
    return Execution(out, macs)


def execute(plan: ReshapePlan | NormalPlan, x: np.ndarray, operand: np.ndarray,
            bias: np.ndarray | None = None) -> Execution:
    """Apply any reshaped form; ``bias`` (M,) is added to forward results."""
    ex = execute_normal(plan, x, operand) if isinstance(plan, NormalPlan) else execute_plan(plan, x, operand)
    if bias is not None and not plan.geometry.is_wgrad:
        shape = (1, -1) + (1,) * plan.geometry.rank
        return Execution(ex.result + bias.reshape(shape), ex.macs)
    return ex


def _check_input(g: ConvGeometry, x: np.ndarray) -> None:
    if tuple(x.shape[1:]) != (g.in_channels, *g.input_size):
        raise ValueError(f"input shape {x.shape[1:]} != {(g.in_channels, *g.input_size)}")

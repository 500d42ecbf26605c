"""The crossbar instructions as closures: ``write`` (program crossbars) and ``mmv``.

An ungrouped matrix (the common case) runs through :mod:`lergan_cc.sim.fast`: a whole loop nest
over the whole batch is one gather and one GEMM; a grouped one through :mod:`lergan_cc.sim.kernels`,
literally. Everything static (index grids, ranges, the cut's shape) is worked out once, here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lergan_cc.fsm.values import Prog, Ref, Win, seq_values
from lergan_cc.sim import fast as F
from lergan_cc.sim import kernels as K
from lergan_cc.sim.machine import Machine, Step, WeightCut

Store = Callable[[np.ndarray, tuple[Any, ...], np.ndarray], None]


def _n(v: Any) -> str:
    assert isinstance(v, Ref)
    return v.name


# ---- write ---------------------------------------------------------------------------------------------
def write(o: dict[str, Any], m: Machine) -> Step:
    mat, src, layout = _n(o["mat"]), o["src"], str(o["layout"])
    decl = m.matrices[mat]
    groups = decl.shape[0]
    taps = [seq_values(t) for t in o["taps"]]
    if src.kind == "param":
        return _write_param(mat, src.name, layout, groups, taps, m)
    if layout != "grad":
        raise ValueError("a matrix written from a buffer must use layout=grad")
    shape = m.full_shape(src.name)
    for a, t in enumerate(taps):
        if min(t) < 0 or max(t) >= shape[2 + a]:
            raise ValueError(f"taps of axis {a} outside %{src.name} {list(shape)}")
    want = math.prod(len(t) for t in taps) * m.full_shape(src.name)[1]
    if decl.shape[1] * decl.shape[2] * groups != want:
        raise ValueError(f"taps of %{src.name} do not fit ${mat} {list(decl.shape)}")
    name = src.name
    if groups == 1:  # rows (sample, taps) x channel: see lergan_cc.sim.fast; replicas share the rows
        def run(mm: Machine) -> None:
            key = (name, mm.version.get(name, 0), repr(taps))
            if mm.rows is None or mm.rows[0] != key:
                mm.rows = (key, mm.quantize(F.grad_rows(mm.bufs[name], taps), "weight"))
            mm.mats[mat] = mm.rows[1]
        return run

    def run_grad(mm: Machine) -> None:
        mm.mats[mat] = mm.quantize(K.grad_matrix(mm.bufs[name], groups, taps), "weight")
    return run_grad


def _write_param(mat: str, name: str, layout: str, groups: int, taps: list[list[int]], m: Machine) -> Step:
    shape = _cut_shape(m.params[name].shape, layout, groups, taps)
    if shape != m.matrices[mat].shape:
        raise ValueError(f"cut {list(shape)} does not fit ${mat} {list(m.matrices[mat].shape)}")
    if groups == 1:  # rows (taps, channel), cut when an MMV reads them: see Machine.matrix
        cut = tuple(tuple(t) for t in taps)
        return lambda mm: mm.mats.__setitem__(mat, WeightCut(mm.params[name], layout, cut))

    def run(mm: Machine) -> None:
        mm.mats[mat] = mm.quantize(K.weight_matrix(mm.params[name], layout, groups, taps), "weight")
    return run


def _cut_shape(w: tuple[int, ...], layout: str, groups: int, taps: list[list[int]]) -> tuple[int, ...]:
    """The shape :func:`kernels.weight_matrix` gives, without cutting (taps checked against the kernel)."""
    if layout == "dense":
        return (1, *w)
    if layout == "dense_t":
        return (1, w[1], w[0])
    kernel = w[2:]
    if len(taps) > len(kernel):
        raise ValueError(f"{len(taps)} tap lists for a kernel of rank {len(kernel)}")
    for a, t in enumerate(taps):
        if t and (min(t) < -kernel[a] or max(t) >= kernel[a]):
            raise IndexError(f"tap {max(t) if max(t) >= kernel[a] else min(t)} is out of bounds for kernel "
                             f"axis {a} with size {kernel[a]}")
    per_group_in = w[0] // groups if layout == "tconv" else w[1]
    cols = w[1] if layout == "tconv" else w[0] // groups
    spatial = [len(t) for t in taps] + list(kernel[len(taps):])
    return (groups, per_group_in * math.prod(spatial), cols)


# ---- mmv -----------------------------------------------------------------------------------------------
def mmv(o: dict[str, Any], m: Machine) -> Step:
    dst, mat, src = _n(o["dst"]), _n(o["mat"]), _n(o["src"])
    rect: list[Prog] = o["rect"]
    win: list[Win] = o["win"]
    pad = bool(o["pad"])
    src_shape, dst_shape = m.full_shape(src), m.full_shape(dst)
    rank = len(rect)
    if len(win) != rank or len(src_shape) != 2 + rank:
        raise ValueError(f"rect/win of rank {rank} do not fit %{src} {list(src_shape)}")
    if len(dst_shape) != 2 + rank or any(p.start + p.step * (p.count - 1) >= n
                                         for p, n in zip(rect, dst_shape[2:], strict=True)):
        raise ValueError(f"loop nest writes outside %{dst} {list(dst_shape)}")
    counts = [p.count for p in rect]
    idx, outside = F.flat_window(counts, [w.a for w in win], [seq_values(w.seq) for w in win], src_shape[2:])
    if outside and not pad:
        raise ValueError(f"window reads outside %{src} {list(src_shape)} (pad=0)")
    slices = tuple(slice(p.start, p.start + p.step * (p.count - 1) + 1, p.step) for p in rect)
    store = _accumulate if bool(o["acc"]) else _assign
    if m.matrices[mat].shape[0] != 1:
        return _mmv_grouped(o, m, (dst, mat, src), (slice(None), slice(None), *slices), store)
    mode = str(o["mode"])
    if mode == "fwd":
        return _mmv_forward((dst, mat, src), idx, outside, counts, slices, store, m)
    layout = mode.split("_")[1]
    order = tuple(range(2, 2 + rank)) + ((1, 0) if layout == "mck" else (0, 1))
    if m.buffers[dst].attrs.get("role") == "grad":
        m.layouts.setdefault(dst, order)  # (kernel..., C, M) in memory: each GEMM's rows land contiguously
    return _mmv_wgrad((dst, mat, src), idx, outside, counts, slices, order, store, m)


def _assign(dst: np.ndarray, index: tuple[Any, ...], res: np.ndarray) -> None:
    dst[index] = res


def _accumulate(dst: np.ndarray, index: tuple[Any, ...], res: np.ndarray) -> None:
    dst[index] += res


def _mmv_forward(names: tuple[str, str, str], idx: np.ndarray, outside: bool, counts: list[int],
                 slices: tuple[slice, ...], store: Store, m: Machine) -> Step:
    """Positions x samples as GEMM rows; results stored channels-last, ``(B, counts..., M)``."""
    dst, mat, src = names
    chunk = m.batch if dst == src else F.batch_chunk(m.batch, idx.size * m.full_shape(src)[1] * 4)

    def run(mm: Machine) -> None:
        w = mm.matrix(mat)
        x = mm.streamed(src, outside)
        if w.shape[0] != idx.shape[1] * x.shape[2]:
            raise ValueError(f"matrix {list(w.shape)} does not fit {x.shape[2]} channels x {idx.shape[1]} taps")
        out = np.moveaxis(mm.bufs[dst], 1, -1)  # (B, spatial..., M): a view

        def put(samples: slice, cols: slice, y: np.ndarray) -> None:
            store(out, (samples, *slices, cols), y.reshape(samples.stop - samples.start, *counts, -1))
        if mm.fixed:  # one scale for the whole result: computed whole, then rounded
            y = np.take(x, idx, axis=1).reshape(x.shape[0] * idx.shape[0], -1) @ w
            put(slice(0, x.shape[0]), slice(None), mm.quantize(y, "output"))
        else:
            F.forward(x, idx, w, chunk, put)
    return run


def _mmv_wgrad(names: tuple[str, str, str], idx: np.ndarray, outside: bool, counts: list[int],
               slices: tuple[slice, ...], order: tuple[int, ...], store: Store, m: Machine) -> Step:
    """Sum over samples of (gathered operand)^T x dy rows, stored into the ``(kernel..., C, M)`` view of dst."""
    dst, mat, src = names
    b = m.batch
    chunk = F.batch_chunk(b, idx.size * m.full_shape(src)[1] * 4)

    t = idx.shape[1]

    def run(mm: Machine) -> None:
        rows = mm.matrix(mat)
        x = mm.streamed(src, outside)
        if rows.shape[0] != b * t:
            raise ValueError(f"gradient matrix {list(rows.shape)} does not fit {b} samples x {t} taps")
        for target, s in mm.sums(dst):  # the whole batch, or each shard's samples into its partial sum
            res = mm.quantize(F.wgrad(x[s], idx, rows[s.start * t:s.stop * t], chunk), "output")
            store(target.transpose(order), slices, res.reshape(*counts, x.shape[2], rows.shape[1]))
    return run


def _mmv_grouped(o: dict[str, Any], m: Machine, names: tuple[str, str, str], index: tuple[Any, ...],
                 store: Store) -> Step:
    """A grouped matrix, literally: gather ``(B, C, p..., t...)`` and one matmul per group."""
    dst, mat, src = names
    rect, win, mode = o["rect"], o["win"], str(o["mode"])
    rank = len(rect)
    sizes = m.full_shape(src)[2:]
    grids = K.window_grids([p.start for p in rect], [p.count for p in rect], [w.a for w in win],
                           [seq_values(w.seq) for w in win])
    grids = tuple(np.where((g < 0) | (g >= n), n, g) for g, n in zip(grids, sizes, strict=True))
    widths = [(0, 0), (0, 0)] + [(0, 1)] * rank

    def xs(mm: Machine) -> np.ndarray:
        x = mm.bufs[src]
        return mm.quantize(K.gather_window(np.pad(x, widths) if bool(o["pad"]) else x, grids), "input")

    if mode == "fwd":
        return lambda mm: store(mm.bufs[dst], index, mm.quantize(
            K.mmv_forward(xs(mm), mm.matrix(mat), rank), "output"))
    layout = mode.split("_")[1]

    def run_wgrad(mm: Machine) -> None:
        x, rows = xs(mm), mm.matrix(mat)
        for target, s in mm.sums(dst):
            store(target, index, mm.quantize(K.mmv_wgrad(x[s], rows[s], rank, layout), "output"))
    return run_wgrad

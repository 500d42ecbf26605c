"""A nearest upsample followed by a convolution is a transposed convolution (docs/zero-free.md §5).

Per axis, ``y[o] = Σ_k W[k] up(x)[o + k − pb]`` with ``up(x)[p] = x[p // s]`` reads input ``i`` at the taps
``k`` with ``o + k − pb ∈ [s·i, s·i + s)``: that is ConvTranspose's ``o = s·i + k' − pb'`` with
``k' = K − 1 − k + r`` (r < s), a kernel of ``K + s − 1`` taps that is the flipped kernel summed over a
box of ``s`` (``W'[k'] = Σ_r W[K − 1 + r − k']``), and pads ``pb' = K − 1 − pb``, ``pe' = K − 1 − pe``.
The compiler keeps the two layers as written (the trained parameter is W, not W'); this module only
says what a zero-free mapping of the folded form would gain: :func:`fold_upsample_conv` gives its
geometry and weight, ``analyze``/``zfdr`` its MACs and kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lergan_cc.zerofree.geometry import ConvGeometry, GeometryError, make_geometry


@dataclass(frozen=True)
class FoldedUpsampleConv:
    """The transposed convolution equal to ``conv(upsample(x, scales), weight, pads)``."""

    geometry: ConvGeometry  # kind "tconv", stride = scales, kernel K + s - 1
    weight: np.ndarray  # ONNX ConvTranspose layout (C, M, K + s - 1, ...)


def fold_upsample_conv(weight: np.ndarray, scales: tuple[int, ...], pads: tuple[int, ...],
                       input_size: tuple[int, ...]) -> FoldedUpsampleConv:
    """``weight``: an ungrouped, undilated, stride-1 Conv's (M, C, K...); ``pads`` its (begins..., ends...),
    each at most K − 1 (the folded pads K − 1 − p must not be negative); ``input_size``: before upsampling."""
    rank = weight.ndim - 2
    kernel = weight.shape[2:]
    if len(scales) != rank or len(pads) != 2 * rank or len(input_size) != rank:
        raise GeometryError(f"scales {list(scales)}, pads {list(pads)}, input {list(input_size)} for a {rank}-d kernel")
    if any(p > k - 1 or p < 0 for p, k in zip(pads, kernel * 2, strict=True)):
        raise GeometryError(f"pads {list(pads)} outside [0, K - 1] for kernel {list(kernel)}")
    folded = np.swapaxes(weight, 0, 1)[(slice(None), slice(None), *(slice(None, None, -1),) * rank)]
    for a, s in enumerate(scales):
        folded = _box(folded, 2 + a, s)
    new_pads = tuple(k - 1 - p for p, k in zip(pads, kernel * 2, strict=True))
    geometry = make_geometry("tconv", tuple(input_size), folded.shape[2:], stride=tuple(scales), pads=new_pads,
                             in_channels=weight.shape[1], out_channels=weight.shape[0])
    return FoldedUpsampleConv(geometry, np.ascontiguousarray(folded))


def _box(w: np.ndarray, axis: int, s: int) -> np.ndarray:
    """The full convolution of ``w`` with ``s`` ones along ``axis`` (length K -> K + s - 1)."""
    k = w.shape[axis]
    out = np.zeros((*w.shape[:axis], k + s - 1, *w.shape[axis + 1:]), dtype=w.dtype)
    for r in range(s):
        out[(slice(None),) * axis + (slice(r, r + k),)] += w
    return out

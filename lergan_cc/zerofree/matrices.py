"""The crossbar matrix of a kind, cut out of the layer's weights (or of ``dy`` for a weight gradient).

Layout, every kind: ``(groups, rows, cols)``; a forward kind's rows are
``(input channel of the group, tap_1, ..., tap_n)`` in row-major order, its columns the
output channels of the group. A weight-gradient kind's matrix is the output gradient
restricted to the kind's ``dy`` positions, one per sample: ``(batch, groups, taps, cols)``.
Groups are kept as separate matrices, not a block-diagonal one, so that no zero is
ever stored.
"""

from __future__ import annotations

import numpy as np

from lergan_cc.zerofree.geometry import ConvGeometry


def _select(arr: np.ndarray, lead: int, taps: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``arr[..lead axes.., ix_(*taps)]``: keep only the listed positions of the trailing axes."""
    return arr[(slice(None),) * lead + np.ix_(*taps)]


def forward_matrix(g: ConvGeometry, weight: np.ndarray, taps: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``(groups, C/g * n_taps, M/g)`` matrix of a ``tconv``/``sconv`` kind with tap sets ``taps``."""
    gr, cg, mg = g.group, g.in_per_group, g.out_per_group
    if tuple(weight.shape) != g.weight_shape:
        raise ValueError(f"weight shape {weight.shape} != {g.weight_shape}")
    if g.kind == "tconv":  # (C, M/g, K...) -> (g, cg, mg, K...)
        w = _select(weight.reshape(gr, cg, mg, *g.kernel), 3, taps)
        w = np.moveaxis(w, 2, -1)
    elif g.kind == "sconv":  # (M, C/g, K...) -> (g, mg, cg, K...)
        w = _select(weight.reshape(gr, mg, cg, *g.kernel), 3, taps)
        w = np.moveaxis(w, 1, -1)
    else:
        raise ValueError(f"{g.kind} kinds take their matrix from dy: use gradient_matrix")
    return w.reshape(gr, -1, mg)


def gradient_matrix(g: ConvGeometry, dy: np.ndarray, taps: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``(batch, groups, n_taps, M/g)`` matrices of a ``wconv``/``wconv_t`` kind (taps = dy positions)."""
    b = dy.shape[0]
    if tuple(dy.shape[1:]) != (g.out_channels, *g.output_size):
        raise ValueError(f"dy shape {dy.shape[1:]} != {(g.out_channels, *g.output_size)}")
    d = _select(dy.reshape(b, g.group, g.out_per_group, *g.output_size), 3, taps)
    return np.moveaxis(d, 2, -1).reshape(b, g.group, -1, g.out_per_group)


def kind_matrix(g: ConvGeometry, operand: np.ndarray, taps: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """The matrix of a kind: from the weights (forward kinds) or from ``dy`` (weight gradients)."""
    return gradient_matrix(g, operand, taps) if g.is_wgrad else forward_matrix(g, operand, taps)

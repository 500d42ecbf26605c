"""How an ONNX MatMul by a constant maps onto a dense layer (or a grouped 1x1 convolution) over samples.

``Y = A @ B`` with numpy's rules: 1-D operands gain a unit axis that the result drops; the leading
(batch) axes broadcast. With ``B`` a constant, every row of ``A`` times a matrix is one MMV: the rows
are the samples the crossbars stream. A leading axis where ``B`` has size 1 (B broadcasts) multiplies
the rows; one where ``A`` has size 1 multiplies the matrices, which sit side by side (more output
columns for the same input); one where both have the same size > 1 pairs each slice of ``A`` with its
own matrix: a grouped convolution with a 1-wide kernel, one group per slice. The plan says how ``A``,
``B`` and ``Y`` are laid out in the IR — ``transpose`` then ``reshape`` — so the host can hand the
input over and take the output back in the model's own layout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Shape = tuple[int, ...]
Key = int | str  # a leading (batch) axis by its index, or "m", "k", "n"


@dataclass(frozen=True)
class MatMulPlan:
    """The IR form of ``A @ B``: A is ``a.transpose(a_perm).reshape(rows, *a_per_sample)``, the weight
    ``b.transpose(b_perm).reshape(weight_shape)``, and ``y.transpose(y_perm).reshape(rows, *y_per_sample)``
    is the IR's result."""

    a_perm: tuple[int, ...]
    b_perm: tuple[int, ...]
    y_perm: tuple[int, ...]
    y_shape: Shape
    rows: int
    groups: int
    k: int
    units: int  # output features per group: (matrices side by side) x N

    @property
    def grouped(self) -> bool:
        return self.groups > 1

    @property
    def a_per_sample(self) -> Shape:
        return (self.groups * self.k, 1) if self.grouped else (self.k,)

    @property
    def y_per_sample(self) -> Shape:
        return (self.groups * self.units, 1) if self.grouped else (self.units,)

    @property
    def weight_shape(self) -> Shape:
        """Dense (in, units); grouped: the ONNX Conv layout (out channels, in channels per group, 1)."""
        return (self.groups * self.units, self.k, 1) if self.grouped else (self.k, self.units)


def plan_matmul(a: Shape, b: Shape) -> MatMulPlan:
    """The plan for ``A @ B`` with ``A`` of shape ``a`` and constant ``B`` of shape ``b``; ValueError
    (with the reason) when the shapes do not multiply."""
    if not a or not b:
        raise ValueError("MatMul needs operands of rank 1 or more")
    a_ids, a2 = _operand(a, vector_axis=-2)
    b_ids, b2 = _operand(b, vector_axis=-1)
    m, k, kb, n = a2[-2], a2[-1], b2[-2], b2[-1]
    if k != kb:
        raise ValueError(f"inner dimensions differ: {list(a)} @ {list(b)}")
    nd = max(len(a2), len(b2)) - 2
    da, db = _pad(a2[:-2], a_ids[:-2], nd), _pad(b2[:-2], b_ids[:-2], nd)
    rows: list[int] = []
    groups: list[int] = []
    cols: list[int] = []
    for i, ((sa, _), (sb, _)) in enumerate(zip(da, db, strict=True)):
        if sa != sb and 1 not in (sa, sb):
            raise ValueError(f"batch dimensions {list(a[:-2])} and {list(b[:-2])} do not broadcast")
        (rows if sb == 1 else cols if sa == 1 else groups).append(i)
    a_axes: dict[Key, int | None] = {i: ax for i, (_, ax) in enumerate(da)} | {"m": a_ids[-2], "k": a_ids[-1]}
    b_axes: dict[Key, int | None] = {i: ax for i, (_, ax) in enumerate(db)} | {"k": b_ids[-2], "n": b_ids[-1]}
    y_ids: list[Key] = [*range(nd), *(["m"] if len(a) > 1 else []), *(["n"] if len(b) > 1 else [])]
    size: dict[int, int] = {i: max(da[i][0], db[i][0]) for i in range(nd)}
    y_shape: Shape = (*(size[i] for i in range(nd)), *((m,) if len(a) > 1 else ()), *((n,) if len(b) > 1 else ()))
    grouped = _prod(size[i] for i in groups) > 1
    a_order: list[Key] = [*rows, "m", *groups, "k", *cols]
    b_order: list[Key] = [*groups, *cols, "n", "k", *rows] if grouped else ["k", *cols, "n", *rows, *groups]
    y_order: list[Key] = [*rows, "m", *groups, *cols, "n"]
    return MatMulPlan(
        a_perm=_perm(a_order, a_axes), b_perm=_perm(b_order, b_axes),
        y_perm=_perm(y_order, {key: y_ids.index(key) if key in y_ids else None for key in y_order}),
        y_shape=y_shape, rows=_prod(size[i] for i in rows) * m, groups=_prod(size[i] for i in groups),
        k=k, units=_prod(size[i] for i in cols) * n)


def _prod(values: Iterable[int]) -> int:
    return math.prod(values)


def _operand(shape: Shape, vector_axis: int) -> tuple[list[int | None], Shape]:
    """A 1-D operand as a matrix (a unit axis at ``vector_axis``) and its axes' indices (None: added)."""
    if len(shape) > 1:
        return list(range(len(shape))), shape
    return ([None, 0], (1, shape[0])) if vector_axis == -2 else ([0, None], (shape[0], 1))


def _pad(dims: Shape, ids: list[int | None], nd: int) -> list[tuple[int, int | None]]:
    """Leading axes padded to ``nd`` with unit axes that the operand does not have (numpy broadcasting)."""
    return [(1, None)] * (nd - len(dims)) + list(zip(dims, ids, strict=True))


def _perm(order: list[Key], axes: dict[Key, int | None]) -> tuple[int, ...]:
    """The operand's own axes in ``order`` (unit axes it lacks skipped); () when that is no transpose."""
    perm = tuple(ax for ax in (axes[key] for key in order) if ax is not None)
    return () if perm == tuple(range(len(perm))) else perm

"""A tensor's layout in the source model against its layout in the program.

The program keeps the IR's layouts — run-time tensors (batch, channels, spatial...), dense weights (in,
units) — and a :class:`View` says how a model's tensor becomes the program's and back: the host hands
inputs over and takes outputs and trained weights back through it (``lergan_cc.ir.attrs.source`` says
which tensors have one, ``docs/onnx.md`` why).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class View:
    """The model's tensor of shape ``shape`` in the IR: ``scale · model.transpose(perm).reshape(ir_shape)``.

    ``perm`` is empty for no transpose. A run-time tensor's IR shape is (batch, per-sample...) — the
    leading axis then need not be the model's first axis: a transposed Gemm input has its samples in
    the model's axis 1."""

    shape: tuple[int, ...]
    perm: tuple[int, ...] = ()
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.perm and sorted(self.perm) != list(range(len(self.shape))):
            raise ValueError(f"perm {list(self.perm)} is not a permutation of {len(self.shape)} axes")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise ValueError(f"scale {self.scale} must be finite and non-zero")

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def to_ir(self, a: np.ndarray, ir_shape: tuple[int, ...]) -> np.ndarray:
        """The model's tensor ``a`` in the IR's layout ``ir_shape`` (float32)."""
        out = np.asarray(a, dtype=np.float32)
        if self.perm:
            out = out.transpose(self.perm)
        out = out.reshape(ir_shape)
        return out * np.float32(self.scale) if self.scale != 1.0 else out.copy(order="C")

    def from_ir(self, a: np.ndarray) -> np.ndarray:
        """The IR's tensor ``a`` back in the model's shape and layout."""
        out = np.asarray(a, dtype=np.float32)
        if self.scale != 1.0:
            out = out / np.float32(self.scale)
        if not self.perm:
            return out.reshape(self.shape).copy(order="C")  # (np.ascontiguousarray makes a 0-d array 1-d)
        out = out.reshape([self.shape[p] for p in self.perm])
        return out.transpose(np.argsort(self.perm)).copy(order="C")


def view_fields(view: View, prefix: str = "") -> dict[str, list[int] | float]:
    """The view as program fields: ``shape``, ``perm`` (when a transpose), ``scale`` (when not 1), each name
    behind ``prefix``."""
    out: dict[str, list[int] | float] = {f"{prefix}shape": list(view.shape)}
    if view.perm:
        out[f"{prefix}perm"] = list(view.perm)
    if view.scale != 1.0:
        out[f"{prefix}scale"] = view.scale
    return out


def view_of(fields: Mapping[str, object], prefix: str = "") -> View | None:
    """The view :func:`view_fields` wrote (None when there is none)."""
    shape = fields.get(f"{prefix}shape")
    if shape is None:
        return None
    perm, scale = fields.get(f"{prefix}perm", []), fields.get(f"{prefix}scale", 1.0)
    if not isinstance(shape, list) or not isinstance(perm, list) or not isinstance(scale, (int, float)):
        raise ValueError(f"{prefix}shape, {prefix}perm: expected lists of integers, {prefix}scale a number")
    return View(tuple(int(d) for d in shape), tuple(int(p) for p in perm), float(scale))

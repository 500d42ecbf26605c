"""Matrix ops, their matrices and copies, and what those take in crossbars.

A matrix (groups, rows, cols) of 16-bit weights takes ``groups x ceil(rows / crossbar_rows)``
*row slices*, each ``ceil(cols / weight_columns_per_crossbar)`` crossbars wide
(:meth:`Hardware.matrix_slices`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from lergan_cc.ir.attrs import Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.targets.geometry import PHASE_BANK
from lergan_cc.targets.hw import Hardware

# The network a phase belongs to; its three phases share a 3DCU (Fig. 13). Inference runs as G_fwd.
SIDE: dict[str, str] = {"G_fwd": "G", "G_wgrad": "G", "G_err": "G", "fwd": "G",
                        "D_fwd": "D", "D_wgrad": "D", "D_err": "D"}
FORWARD = frozenset({"G_fwd", "D_fwd", "fwd"})


@dataclass(frozen=True)
class Matrix:
    """One matrix to store: a ZFDR/deform kind, or the single matrix of a normal mapping."""

    kind: int
    cls: str
    reuse: int
    shape: tuple[int, int, int]


def matrix_ops(g: Graph) -> list[Op]:
    """Ops that hold weights in crossbars (they carry ``reshape`` after a reshaping pass)."""
    return [op for op in g.ops() if op.get(Reshape) is not None]


def matrices(op: Op) -> list[Matrix]:
    return [Matrix(*m) for m in op.need(Reshape).matrices()]


def is_zfdm(op: Op) -> bool:
    return op.need(Reshape).zero_free


def crossbars(hw: Hardware, shape: tuple[int, int, int]) -> int:
    rs, cs = hw.matrix_slices(shape)
    return rs * cs


def copies_of(op: Op) -> list[int]:
    """Copies per kind: ``replicas.per_kind`` when replicate ran, else one of each."""
    rep = op.get(Replicas)
    return list(rep.per_kind) if rep else [1] * len(matrices(op))


def part_size(hw: Hardware, op: Op) -> int:
    """Crossbars of every copy of every matrix of ``op``."""
    return sum(n * crossbars(hw, m.shape) for m, n in zip(matrices(op), copies_of(op), strict=True))


def layer_key(op: Op) -> tuple[str, str]:
    return SIDE[op.phase], op.layer


def layer_order(ops: Iterable[Op]) -> list[tuple[str, str]]:
    """Layers in forward order (the order of the forward ops), backward-only layers after."""
    ops = list(ops)
    keys = [layer_key(op) for op in ops if op.phase in FORWARD] + [layer_key(op) for op in ops]
    return list(dict.fromkeys(keys))


def bank_of(phase: str) -> str:
    return PHASE_BANK[phase]


def phases_present(ops: Iterable[Op]) -> list[str]:
    return list(dict.fromkeys(op.phase for op in ops))


def bank_budget(hw: Hardware, ops: list[Op]) -> int:
    """A bank's crossbars less one row slice per tile: the most a placer may lose to slices that cannot
    straddle tiles, so a set of matrices within this budget always fits a bank."""
    widest = max((crossbars(hw, (1, 1, m.shape[2])) for op in ops for m in matrices(op)), default=1)
    return hw.crossbars_per_bank - hw.tiles_per_bank * (min(widest, hw.crossbars_per_tile) - 1)


def stored_bytes(hw: Hardware, g: Graph, phase: str, samples: int) -> tuple[int, int]:
    """(bytes of the activations ``samples`` samples of ``phase`` store, bytes of the gradient sums one copy
    of ``phase`` accumulates): what a phase keeps in its bank's SArray besides its crossbars."""
    value = hw.precision.output_bits // 8
    ops = [op for op in g.ops() if op.phase == phase]
    acts = sum(math.prod(op.shape) for op in ops if op.OP not in ("loss", "wconv", "wdense")) * samples * value
    grads = 0
    for op in ops:
        if op.OP in ("wconv", "wdense"):
            grads += math.prod(op.shape)
            fwd = g.op(op.name[: -len(".wgrad")]) if op.name.endswith(".wgrad") and op.name[:-6] in g else None
            bias = getattr(fwd, "bias", None)
            grads += math.prod(g.params[bias].shape) if isinstance(bias, str) and bias in g.params else 0
        elif op.OP in ("batchnorm_grad", "instancenorm_grad"):
            grads += 2 * op.shape[0]
    return acts, grads * value


def sarray_bytes(hw: Hardware) -> int:
    """A bank's SArray: the memory its tiles hold outside the crossbars (PRIME's memory subarrays, addressable
    from the whole bank through its H-tree)."""
    return hw.tiles_per_bank * hw.memory.sarray_mib * (1 << 20)


def spill_banks(hw: Hardware) -> list[str]:
    """The banks no phase computes in (Fig. 13 uses B1-B6): where sample-parallel copies may spill."""
    used = set(PHASE_BANK.values())
    return [f"B{b}" for b in range(1, hw.banks + 1) if f"B{b}" not in used]

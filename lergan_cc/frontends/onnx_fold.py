"""Constant folding for the ONNX front end: initializers, Constant nodes and shape subgraphs.

Exporters compute Reshape targets at run time from ``Shape(x)``: with a symbolic batch
size, ``[Shape(x)[0], 32, 4, 4]`` is not a constant. We fold such subgraphs by evaluating
them twice, with two different stand-in batch sizes; an entry that comes out equal both
times is a true constant, one that tracks the stand-in batch *is* the batch dimension,
and anything else depends on the batch in a way the per-sample IR cannot express.
Every folded node is evaluated by ``onnx.reference`` so ONNX semantics (opset versions,
attribute forms of Squeeze/Unsqueeze, Slice clamping, ...) come from the spec's own
evaluator rather than from a hand-written copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

# Stand-in batch sizes: distinct, and not 1 (Squeeze without axes would drop a batch of 1).
BATCHES = (5, 7)


@dataclass(frozen=True)
class Const:
    """A value known at compile time, once per stand-in batch size (equal when static)."""

    values: tuple[np.ndarray, np.ndarray]

    @classmethod
    def static(cls, value: np.ndarray) -> Const:
        return cls((value, value))

    @property
    def is_static(self) -> bool:
        a, b = self.values
        return a.shape == b.shape and bool(np.array_equal(a, b))

    @property
    def value(self) -> np.ndarray:
        return self.values[0]


@dataclass(frozen=True)
class Runtime:
    """A run-time tensor as the folder sees it: only its per-sample shape and dtype matter.

    ``Shape`` and ``CastLike`` read nothing else, so a zero-strided placeholder of the full
    (batch, ...) shape stands in for it without allocating the data.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    batched: bool = True  # False: ``shape`` is the whole tensor's (a regrouped tensor's shape is static)

    def placeholder(self, k: int) -> np.ndarray:
        shape = (BATCHES[k], *self.shape) if self.batched else self.shape
        return np.broadcast_to(np.zeros((), dtype=self.dtype), shape)


# Ops that read only the shape or dtype of a run-time input, never its values.
SHAPE_READERS: dict[str, tuple[int, ...]] = {"Shape": (0,), "Size": (0,), "CastLike": (1,)}


class FoldError(Exception):
    """The reference evaluator could not run the node (unsupported op or bad inputs)."""


def foldable(op_type: str, domain: str, inputs: list[Const | Runtime | None]) -> bool:
    """A node folds when every input it reads the values of is a compile-time constant."""
    if domain not in ("", "ai.onnx"):
        return False
    shape_only = SHAPE_READERS.get(op_type, ())
    return all(v is None or isinstance(v, Const) or i in shape_only for i, v in enumerate(inputs))


def fold(node: onnx.NodeProto, inputs: list[Const | Runtime | None], opset: int) -> list[Const]:
    """Evaluate ``node`` once per stand-in batch size; one Const per node output."""
    runs = 1 if all(not isinstance(v, Runtime) and (v is None or v.is_static) for v in inputs) else 2
    results = [_run(node, [_pick(v, k) for v in inputs], opset) for k in range(runs)]
    if runs == 1:
        results.append(results[0])
    return [Const((np.asarray(a), np.asarray(b))) for a, b in zip(*results, strict=True)]


def _pick(v: Const | Runtime | None, k: int) -> np.ndarray | None:
    if v is None:
        return None
    return v.placeholder(k) if isinstance(v, Runtime) else v.values[k]


def _run(node: onnx.NodeProto, args: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    feeds = {name: a for name, a in zip(node.input, args, strict=True) if name}
    try:
        outs = _evaluator(node.SerializeToString(), opset).run(None, feeds)  # also builds: may raise
    except Exception as e:  # the reference raises anything from KeyError to ValueError
        raise FoldError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    return [np.asarray(o) for o in outs]


@lru_cache(maxsize=256)
def _evaluator(serialized: bytes, opset: int) -> ReferenceEvaluator:
    """An evaluator for one node at the model's opset (a bare NodeProto would get the latest)."""
    node = onnx.NodeProto()
    node.ParseFromString(serialized)
    untyped = [helper.make_value_info(n, onnx.TypeProto()) for n in node.input if n]
    outputs = [helper.make_value_info(n, onnx.TypeProto()) for n in node.output if n]
    graph = helper.make_graph([node], "fold", untyped, outputs)
    return ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))

"""The graph IR: ops in a networkx DiGraph, parameters, and the model's typed graph attributes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import networkx as nx
import numpy as np

from lergan_cc.ir.attribute import Attr, AttrError
from lergan_cc.ir.ops import Op, Shape

A = TypeVar("A", bound=Attr)


@dataclass(frozen=True)
class Param:
    """A weight tensor: its name, shape and the network (``G``, ``D`` or ``""``) it belongs to."""

    name: str
    shape: Shape


@dataclass
class Graph:
    """A model (single network or GAN) as a dataflow graph of ops.

    Nodes are op names with the op record under ``"op"``; an edge u -> v means v reads
    u's value. ``attached`` holds the graph attributes (GAN roles, placement summary, ...).
    ``tensors`` holds parameter data when the model has weights; it is not part of the
    textual form (it goes to the program's sidecar), nor are ``sources``, the source ONNX
    models without the initializers that became parameters (``--write-onnx`` puts the trained
    ones back).
    """

    model: str
    kind: str = "net"  # "net" or "gan"
    attached: dict[str, Attr] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)  # net|G|D -> the ONNX model, without the params
    nx: nx.DiGraph = field(default_factory=nx.DiGraph)
    _order: dict[str, int] = field(default_factory=dict)
    # ops()'s order, kept until an op is added or removed (derived: not a constructor argument)
    _topo: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    def add(self, op: Op) -> Op:
        """Append an op; its inputs must already exist."""
        if op.name in self.nx:
            raise ValueError(f"duplicate op name '{op.name}'")
        self._order[op.name] = len(self._order)
        self._topo = None
        self.nx.add_node(op.name, op=op)
        for src in op.inputs:
            if src not in self.nx:
                raise ValueError(f"op '{op.name}' reads undefined value '{src}'")
            self.nx.add_edge(src, op.name)
        return op

    def add_param(self, name: str, shape: Shape, data: np.ndarray | None = None) -> str:
        if name in self.params:
            raise ValueError(f"duplicate parameter '{name}'")
        self.params[name] = Param(name, tuple(int(d) for d in shape))
        if data is not None:
            self.tensors[name] = np.asarray(data, dtype=np.float32)
        return name

    def replace(self, op: Op) -> None:
        """Swap in a new record for an existing op with the same name and inputs."""
        old = self.op(op.name)
        if old.inputs != op.inputs:
            raise ValueError(f"replace() cannot rewire '{op.name}'; use remove() and add()")
        self.nx.nodes[op.name]["op"] = op

    def remove(self, name: str) -> None:
        self.nx.remove_node(name)
        del self._order[name]
        self._topo = None

    def op(self, name: str) -> Op:
        return self.nx.nodes[name]["op"]

    def __contains__(self, name: str) -> bool:
        return name in self.nx

    def ops(self) -> Iterator[Op]:
        """Ops in a stable topological order (ties broken by insertion order). The order is sorted once per
        change of the graph's structure (a compile asks for it ~90 times)."""
        if self._topo is None:
            self._topo = list(nx.lexicographical_topological_sort(self.nx, key=self._order.__getitem__))
        nodes = self.nx.nodes
        for name in self._topo:
            yield nodes[name]["op"]

    def input_shapes(self, op: Op) -> list[Shape]:
        return [self.op(src).shape for src in op.inputs]

    def consumers(self, name: str) -> list[Op]:
        return sorted((self.op(n) for n in self.nx.successors(name)), key=lambda o: self._order[o.name])

    def inputs(self) -> list[Op]:
        return [op for op in self.ops() if op.OP == "input"]

    # ---- graph attributes -------------------------------------------------------------------
    def get(self, cls: type[A]) -> A | None:
        value = self.attached.get(cls.key)
        return value if isinstance(value, cls) else None

    def need(self, cls: type[A]) -> A:
        value = self.get(cls)
        if value is None:
            raise AttrError(f"model '{self.model}' has no '{cls.key}' attribute")
        return value

    def attach(self, *attrs: Attr) -> None:
        for a in attrs:
            self.attached[a.key] = a

    def update(self, op: Op, *attrs: Attr) -> Op:
        """Attach ``attrs`` to the op named like ``op`` (its current record) and return the new record."""
        new = self.op(op.name).attach(*attrs)
        self.replace(new)
        return new

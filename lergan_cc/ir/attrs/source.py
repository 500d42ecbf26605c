"""What the source model says about its own tensors: its static batch and the layouts the IR changed.

The IR keeps its own layouts: run-time tensors are (batch, channels, spatial...), a dense weight is
(in, units). A model's tensor may be laid out otherwise: a PyTorch ``nn.Linear`` weight is (units, in)
(Gemm ``transB=1``), a Gemm with ``transA=1`` reads its input's columns as the samples, a ``Flatten`` with
``axis=0`` folds the batch into the features. A :class:`View` says how to go from the model's tensor to
the IR's and back (:mod:`lergan_cc.views`), so that inputs are given and outputs (inference outputs, trained
weights) come back exactly as the model has them. Only tensors whose layout differs are listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from lergan_cc.ir.attribute import Attr, AttrError, Fields, Site
from lergan_cc.ir.attrs.model import OutputNames
from lergan_cc.views import View


def _value_of(view: View) -> dict[str, Any]:
    out: dict[str, Any] = {"shape": list(view.shape)}
    if view.perm:
        out["perm"] = list(view.perm)
    if view.scale != 1.0:
        out["scale"] = view.scale
    return out


def _view(value: Any, what: str) -> View:
    f = Fields(value, what)
    shape, perm = f.ints("shape"), f.ints("perm") if f.has("perm") else ()
    scale = f.float("scale") if f.has("scale") else 1.0
    f.done()
    try:
        return View(shape, perm, scale)
    except ValueError as e:
        raise AttrError(f"{what}: {e}") from None


def _views(value: Any, what: str) -> dict[str, View]:
    if not isinstance(value, dict):
        raise AttrError(f"{what}: expected {{name = view, ...}}")
    return {str(k): _view(v, f"{what}.{k}") for k, v in value.items()}


@dataclass(frozen=True)
class SourceModel(Attr):
    """The source model's static batch (None: symbolic) and the views of its tensors whose layout the
    IR changed: run-time inputs (by input op), outputs (by the model's output name), parameters."""

    key: ClassVar[str] = "source"
    scope: ClassVar[str] = "graph"
    batch: int | None = None
    inputs: dict[str, View] = field(default_factory=dict)
    outputs: dict[str, View] = field(default_factory=dict)
    params: dict[str, View] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.batch, tuple(self.inputs), tuple(self.outputs), tuple(self.params)))

    @property
    def fixes_batch(self) -> bool:
        """Whether a run-time view ties the program to the model's batch (so ``--batch`` cannot change it)."""
        return bool(self.inputs or self.outputs)

    def to_value(self) -> Any:
        out: dict[str, Any] = {}
        if self.batch is not None:
            out["batch"] = self.batch
        for name in ("inputs", "outputs", "params"):
            views: dict[str, View] = getattr(self, name)
            if views:
                out[name] = {k: _value_of(views[k]) for k in sorted(views)}
        return out

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        batch = f.int("batch", low=1) if f.has("batch") else None
        views = {n: _views(f.dict(n), f"{cls.key}.{n}") if f.has(n) else {} for n in ("inputs", "outputs", "params")}
        f.done()
        return cls(batch, **views)

    def verify(self, site: Site) -> None:
        g = site.g
        for name, view in self.params.items():
            if name not in g.params:
                raise AttrError(f"{self.key}.params: '{name}' is not a parameter")
            if view.size != math.prod(g.params[name].shape):
                raise AttrError(f"{self.key}.params.{name}: {list(view.shape)} does not hold "
                                f"{list(g.params[name].shape)}")
        for name, view in self.inputs.items():
            if name not in g or g.op(name).OP != "input":
                raise AttrError(f"{self.key}.inputs: '{name}' is not an input op")
            self._check_runtime(f"inputs.{name}", view, g.op(name).shape)
        names = g.get(OutputNames)
        outputs = dict(zip(names.names, g.outputs, strict=True)) if names and g.kind == "net" else {}
        for name, view in self.outputs.items():
            if name in outputs:
                self._check_runtime(f"outputs.{name}", view, g.op(outputs[name]).shape)
            elif self.batch is None:
                raise AttrError(f"{self.key}.outputs.{name}: a run-time view needs the model's batch")

    def _check_runtime(self, what: str, view: View, per_sample: tuple[int, ...]) -> None:
        if self.batch is None:
            raise AttrError(f"{self.key}.{what}: a run-time view needs the model's batch")
        if view.size != self.batch * math.prod(per_sample):
            raise AttrError(f"{self.key}.{what}: {list(view.shape)} does not hold a batch of "
                            f"{self.batch} x {list(per_sample)}")

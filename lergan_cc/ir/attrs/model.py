"""Graph attributes the front ends attach: a GAN's roles, a model's own output names, the DSL's replica degree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from lergan_cc.ir.attribute import Attr, AttrError, Fields, Site
from lergan_cc.options import REPLICAS


def _names(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise AttrError(f"{what}: expected a name, got {v!r}")
    return v


@dataclass(frozen=True)
class GanRoles(Attr):
    """Which value is the generator's output (the fakes) and which the discriminator's; whether D ends in a
    sigmoid (a probability) or gives a logit; the generator's own output names (ONNX), kept for
    ``--mode infer``."""

    key: ClassVar[str] = "gan"
    scope: ClassVar[str] = "graph"
    generator_output: str
    discriminator_output: str
    discriminator_probability: bool
    generator_output_names: tuple[str, ...] = ()

    def to_value(self) -> Any:
        out: dict[str, Any] = {"generator_output": self.generator_output,
                               "discriminator_output": self.discriminator_output,
                               "discriminator_probability": self.discriminator_probability}
        if self.generator_output_names:
            out["generator_output_names"] = list(self.generator_output_names)
        return out

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        f = Fields(value, cls.key)
        names = f.each("generator_output_names", _names) if f.has("generator_output_names") else ()
        out = cls(f.str("generator_output"), f.str("discriminator_output"), f.bool("discriminator_probability"),
                  names)
        f.done()
        return out

    def verify(self, site: Site) -> None:
        g = site.g
        if g.kind != "gan":
            raise AttrError(f"{self.key}: a {g.kind} model has no GAN roles")
        for role, name, phase in (("generator_output", self.generator_output, "G_fwd"),
                                  ("discriminator_output", self.discriminator_output, "D_fwd")):
            if name not in g or g.op(name).phase != phase:
                raise AttrError(f"{self.key}.{role}: '{name}' is not an op of phase {phase}")
        if self.discriminator_probability != (g.op(self.discriminator_output).OP == "sigmoid"):
            raise AttrError(f"{self.key}.discriminator_probability: {self.discriminator_probability}, but D's "
                            f"output is a {g.op(self.discriminator_output).OP}")


@dataclass(frozen=True)
class OutputNames(Attr):
    """A single network's outputs under the names the source model gave them (ONNX graph outputs)."""

    key: ClassVar[str] = "output_names"
    scope: ClassVar[str] = "graph"
    names: tuple[str, ...]

    def to_value(self) -> Any:
        return list(self.names)

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        if not isinstance(value, list):
            raise AttrError(f"{cls.key}: expected a list of names, got {value!r}")
        return cls(tuple(_names(v, cls.key) for v in value))

    def verify(self, site: Site) -> None:
        if len(self.names) != len(site.g.outputs):
            raise AttrError(f"{self.key}: {len(self.names)} names for {len(site.g.outputs)} outputs")


@dataclass(frozen=True)
class ReplicaDegree(Attr):
    """The replica degree a DSL model asks for (``replica_degree``); ``--replica`` overrides it."""

    key: ClassVar[str] = "replica_degree"
    scope: ClassVar[str] = "graph"
    degree: str

    def to_value(self) -> Any:
        return self.degree

    @classmethod
    def from_value(cls, value: Any, site: Site) -> Self:
        if value not in REPLICAS:
            raise AttrError(f"{cls.key}: expected one of {', '.join(REPLICAS)}, got {value!r}")
        return cls(value)

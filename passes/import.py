"""The pass ``import``: a model (DSL file or text, ONNX file or ``ModelProto``) -> verified graph IR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.errors import LerganError
from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext

SUFFIXES = (".lergan", ".onnx")


@dataclass(frozen=True)
class Import(Pass):
    """The front end as the first pass; ``model`` is what ``lergan_cc.compile`` was given."""

    name: ClassVar[str] = "import"
    model: object = None

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        raise LerganError("pass 'import' reads model files: use lerganc or lergan_cc.compile, not lergan-opt")

    def load(self, options: Options) -> Graph:
        from lergan_cc.frontends.gan import generator_only, make_gan

        model = load_one(self.model)
        if options.discriminator is not None:
            if model.kind == "gan":
                raise LerganError(f"{model.model}: already a GAN; --discriminator only applies to a generator model")
            model = make_gan(model, load_one(options.discriminator), batch=options.batch)
        mode = options.mode or ("train" if model.kind == "gan" else "infer")
        if mode == "infer" and model.kind == "gan":
            return generator_only(model)
        if mode == "train" and model.kind != "gan":
            raise LerganError(f"{model.model}: --mode train needs a GAN: give the discriminator with "
                              f"--discriminator D.onnx")
        if mode == "train":
            _no_sample_bias(model)
        return model


def _no_sample_bias(g: Graph) -> None:
    """A bias row per sample (ONNX Gemm with a (batch, units) C) has no training: SGD trains one bias that
    every sample shares."""
    for op in g.ops():
        bias = getattr(op, "bias", None)
        if op.OP == "dense" and bias is not None and len(g.params[bias].shape) == 2:
            raise LerganError(f"{g.model}: layer '{op.layer}': a bias with a row per sample "
                              f"{list(g.params[bias].shape)} cannot be trained (--mode infer runs it)")


def load_one(model: object) -> Graph:
    """One network or GAN from a path, DSL text or an ``onnx.ModelProto``."""
    if isinstance(model, (str, Path)) and not _is_text(model):
        return _load_file(Path(model))
    if isinstance(model, str):
        from lergan_cc.frontends.dsl import loads_dsl

        return loads_dsl(model, "<dsl>")
    if type(model).__name__ == "ModelProto":
        from lergan_cc.frontends.onnx_frontend import import_model

        return import_model(model, "<onnx>")  # type: ignore[arg-type]  # onnx is imported by the front end only
    raise LerganError(f"cannot compile a {type(model).__name__}: give a .lergan or .onnx path, DSL text or an "
                      f"onnx.ModelProto")


def _is_text(model: str | Path) -> bool:
    """DSL text rather than a path: a string with a line break or a brace (no model file name has one)."""
    return isinstance(model, str) and ("\n" in model or "{" in model)


def _load_file(p: Path) -> Graph:
    if p.is_dir():
        raise LerganError(f"{p}: is a directory, not a model file")
    if not p.is_file():
        raise LerganError(f"{p}: no such file")
    if p.suffix == ".lergan":
        from lergan_cc.frontends.dsl import load_dsl

        return load_dsl(str(p))
    if p.suffix == ".onnx":
        from lergan_cc.frontends.onnx_frontend import load_onnx

        return load_onnx(str(p))
    raise LerganError(f"{p}: unknown model format '{p.suffix}' (expected {' or '.join(SUFFIXES)})")

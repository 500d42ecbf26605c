"""The pass ``import``: a model file (DSL or ONNX) -> verified graph IR."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from lergan_cc.capacity import check_fits
from lergan_cc.errors import LerganError
from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.targets.hw import load_hw


class Import:
    name: ClassVar[str] = "import"

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def apply(self, g: Graph | None, options: Options) -> Graph:
        if self.path is None:
            raise LerganError("pass 'import' needs a model file; run it through lerganc")
        g = load_model(self.path, options)
        check_fits(g, load_hw(options.hw), options.batch, self.path)  # before any pass allocates for it
        return g


def load_model(path: str, options: Options) -> Graph:
    from lergan_cc.frontends.gan import generator_only, make_gan

    model = _load_one(path)
    if options.discriminator is not None:
        if model.kind == "gan":
            raise LerganError(f"{path}: already a GAN; --discriminator only applies to a generator model")
        model = make_gan(model, _load_one(options.discriminator))
    mode = options.mode or ("train" if model.kind == "gan" else "infer")
    if mode == "infer" and model.kind == "gan":
        return generator_only(model)
    if mode == "train" and model.kind != "gan":
        raise LerganError(f"{path}: --mode train needs a GAN: give the discriminator with --discriminator D.onnx")
    return model


def _load_one(path: str) -> Graph:
    p = Path(path)
    if not p.is_file():
        raise LerganError(f"{path}: no such file")
    if p.suffix == ".lergan":
        from lergan_cc.frontends.dsl import load_dsl

        return load_dsl(path)
    if p.suffix == ".onnx":
        from lergan_cc.frontends.onnx_frontend import load_onnx

        return load_onnx(path)
    raise LerganError(f"{path}: unknown model format '{p.suffix}' (expected .lergan or .onnx)")

"""Write the example ONNX GAN: examples/onnx/dcgan_g.onnx and dcgan_d.onnx.

    python examples/make_onnx_examples.py [OUT_DIR]

A small DCGAN (noise 16 -> 3x16x16 items) built with ``onnx.helper`` and seeded random
weights (normal, std 0.02, as the DCGAN paper initialises them), so the files are
reproducible byte for byte. The generator uses Gemm (transB=1) and a Reshape whose
target comes from an initializer; the discriminator uses MatMul + Add (fused into one
dense layer by the front end), batch norm, leaky ReLU and Flatten.

    lerganc examples/onnx/dcgan_g.onnx --discriminator examples/onnx/dcgan_d.onnx --emit ir
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NOISE, CHANNELS, SIZE = 16, 3, 16
OPSET = 17


class Builder:
    """Nodes and seeded initializers of one graph."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...], std: float = 0.02, mean: float = 0.0) -> str:
        data = (mean + std * self.rng.standard_normal(shape)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def const(self, name: str, data: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def node(self, op: str, name: str, inputs: list[str], **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def batchnorm(self, name: str, x: str, channels: int) -> str:
        zeros, ones = np.zeros(channels, np.float32), np.ones(channels, np.float32)
        params = [self.weight(f"{name}.scale", (channels,), 0.02, 1.0), self.const(f"{name}.bias", zeros),
                  self.const(f"{name}.mean", zeros), self.const(f"{name}.var", ones)]
        return self.node("BatchNormalization", name, [x, *params], epsilon=1e-5, momentum=0.9)

    def model(self, name: str, inp: onnx.ValueInfoProto, out: str, out_shape: list[object]) -> onnx.ModelProto:
        output = helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)
        graph = helper.make_graph(self.nodes, name, [inp], [output], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lergan_cc")
        onnx.checker.check_model(model, full_check=True)
        return model


def generator() -> onnx.ModelProto:
    """noise 16 -> dense 512 -> 32x4x4 -> tconv 16x8x8 + BN + ReLU -> tconv 3x16x16 -> tanh."""
    b = Builder(seed=1)
    x = b.node("Gemm", "fc", ["noise", b.weight("fc.weight", (512, NOISE)), b.weight("fc.bias", (512,))],
               transB=1)
    x = b.node("Reshape", "project", [x, b.const("project.shape", np.array([-1, 32, 4, 4], np.int64))])
    x = b.node("ConvTranspose", "tconv1", [x, b.weight("tconv1.weight", (32, 16, 4, 4)),
                                           b.weight("tconv1.bias", (16,))], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Relu", "relu1", [b.batchnorm("bn1", x, 16)])
    x = b.node("ConvTranspose", "tconv2", [x, b.weight("tconv2.weight", (16, CHANNELS, 5, 5))],
               strides=[2, 2], pads=[2, 2, 2, 2], output_padding=[1, 1])
    x = b.node("Tanh", "fake", [x])
    noise = helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["N", NOISE])
    return b.model("dcgan_g", noise, x, ["N", CHANNELS, SIZE, SIZE])


def discriminator() -> onnx.ModelProto:
    """3x16x16 -> conv 16x8x8 + lReLU -> conv 32x4x4 + BN + lReLU -> flatten -> dense 1 -> sigmoid."""
    b = Builder(seed=2)
    x = b.node("Conv", "conv1", ["image", b.weight("conv1.weight", (16, CHANNELS, 4, 4)),
                                 b.weight("conv1.bias", (16,))], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("LeakyRelu", "lrelu1", [x], alpha=0.2)
    x = b.node("Conv", "conv2", [x, b.weight("conv2.weight", (32, 16, 4, 4))], strides=[2, 2],
               auto_pad="SAME_UPPER")
    x = b.node("LeakyRelu", "lrelu2", [b.batchnorm("bn2", x, 32)], alpha=0.2)
    x = b.node("Flatten", "flatten", [x], axis=1)
    x = b.node("MatMul", "fc", [x, b.weight("fc.weight", (512, 1))])
    x = b.node("Add", "fc_bias", [x, b.const("fc.bias", np.zeros(1, np.float32))])
    x = b.node("Sigmoid", "prob", [x])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", CHANNELS, SIZE, SIZE])
    return b.model("dcgan_d", image, x, ["N", 1])


def main(out_dir: str | None = None) -> list[Path]:
    out = Path(out_dir) if out_dir else Path(__file__).parent / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in (("dcgan_g", generator), ("dcgan_d", discriminator)):
        path = out / f"{name}.onnx"
        onnx.save(build(), str(path))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in main(sys.argv[1] if len(sys.argv) > 1 else None):
        print(p)

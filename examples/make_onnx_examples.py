"""Write the example ONNX models: a DCGAN (examples/onnx/dcgan_g.onnx, dcgan_d.onnx) and the DAG generators
people train today with a PatchGAN discriminator (cyclegan_g.onnx, unet_g.onnx, resize_g.onnx, patch_d.onnx).

    python examples/make_onnx_examples.py [OUT_DIR]

A small DCGAN (noise 16 -> 3x16x16 items) built with ``onnx.helper`` and seeded random
weights (normal, std 0.02, as the DCGAN paper initialises them), so the files are
reproducible byte for byte. The generator uses Gemm (transB=1) and a Reshape whose
target comes from an initializer; the discriminator uses MatMul + Add (fused into one
dense layer by the front end), batch norm, leaky ReLU and Flatten.

The DAG generators (issue 16): CycleGAN's ResNet generator (reflection Pad, InstanceNormalization, two
residual blocks ending in Add), pix2pix's U-Net of depth 3 (skip Concat, LeakyRelu, BatchNormalization,
Dropout) and an upsample-then-conv generator (Resize nearest x2 + Conv); the PatchGAN discriminator ends
in a 1-channel map of logits (no Sigmoid).

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

    def conv(self, op: str, name: str, x: str, shape: tuple[int, ...], bias: bool = True, **attrs: object) -> str:
        """A Conv/ConvTranspose with weight ``shape`` in ONNX layout and (optionally) a bias."""
        out = shape[1] if op == "ConvTranspose" else shape[0]
        extra = [self.weight(f"{name}.bias", (out,))] if bias else []
        return self.node(op, name, [x, self.weight(f"{name}.weight", shape), *extra], **attrs)

    def instancenorm(self, name: str, x: str, channels: int) -> str:
        params = [self.weight(f"{name}.scale", (channels,), 0.02, 1.0),
                  self.const(f"{name}.bias", np.zeros(channels, np.float32))]
        return self.node("InstanceNormalization", name, [x, *params], epsilon=1e-5)

    def pad(self, name: str, x: str, p: int, mode: str = "reflect") -> str:
        return self.node("Pad", name, [x, self.const(f"{name}.pads", np.array([0, 0, p, p, 0, 0, p, p], np.int64))],
                         mode=mode)

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


def cyclegan_generator() -> onnx.ModelProto:
    """CycleGAN's ResNet generator, small (ngf 4): reflect-pad 3 + 7x7 conv + IN + ReLU, two strided 3x3
    convs down (IN + ReLU), two residual blocks (reflect-pad 1, 3x3 conv, IN, ReLU, reflect-pad 1, 3x3 conv,
    IN, + the block's input), two transposed convs up (IN + ReLU), reflect-pad 3 + 7x7 conv + tanh."""
    b = Builder(seed=3)
    x = b.conv("Conv", "c0", b.pad("pad0", "x", 3), (4, CHANNELS, 7, 7))
    x = b.node("Relu", "relu0", [b.instancenorm("in0", x, 4)])
    for i, (cin, cout) in enumerate(((4, 8), (8, 16)), start=1):
        x = b.conv("Conv", f"down{i}", x, (cout, cin, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1])
        x = b.node("Relu", f"down{i}.relu", [b.instancenorm(f"down{i}.in", x, cout)])
    for r in (1, 2):
        y = b.conv("Conv", f"res{r}.c1", b.pad(f"res{r}.pad1", x, 1), (16, 16, 3, 3))
        y = b.node("Relu", f"res{r}.relu", [b.instancenorm(f"res{r}.in1", y, 16)])
        y = b.conv("Conv", f"res{r}.c2", b.pad(f"res{r}.pad2", y, 1), (16, 16, 3, 3))
        x = b.node("Add", f"res{r}", [x, b.instancenorm(f"res{r}.in2", y, 16)])
    for i, (cin, cout) in enumerate(((16, 8), (8, 4)), start=1):
        x = b.conv("ConvTranspose", f"up{i}", x, (cin, cout, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1],
                   output_padding=[1, 1])
        x = b.node("Relu", f"up{i}.relu", [b.instancenorm(f"up{i}.in", x, cout)])
    x = b.node("Tanh", "fake", [b.conv("Conv", "c_out", b.pad("pad_out", x, 3), (CHANNELS, 4, 7, 7))])
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", CHANNELS, SIZE, SIZE])
    return b.model("cyclegan_g", image, x, ["N", CHANNELS, SIZE, SIZE])


def unet_generator() -> onnx.ModelProto:
    """pix2pix's U-Net of depth 3 (ngf 4): every block's input is concatenated to its output (the skip);
    down: LeakyReLU 0.2 + 4x4 stride-2 conv (+ BN), up: ReLU + 4x4 stride-2 transposed conv + BN (+ Dropout
    0.5 in the middle block, as pix2pix's inner blocks), the outermost up ends in tanh."""
    b = Builder(seed=4)
    down1 = b.conv("Conv", "down1", "x", (4, CHANNELS, 4, 4), bias=False, strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("LeakyRelu", "down2.lrelu", [down1], alpha=0.2)
    down2 = b.batchnorm("down2.bn", b.conv("Conv", "down2", x, (8, 4, 4, 4), bias=False, strides=[2, 2],
                                           pads=[1, 1, 1, 1]), 8)
    x = b.node("LeakyRelu", "down3.lrelu", [down2], alpha=0.2)
    x = b.node("Relu", "up3.relu", [b.conv("Conv", "down3", x, (16, 8, 4, 4), bias=False, strides=[2, 2],
                                           pads=[1, 1, 1, 1])])
    x = b.batchnorm("up3.bn", b.conv("ConvTranspose", "up3", x, (16, 8, 4, 4), bias=False, strides=[2, 2],
                                     pads=[1, 1, 1, 1]), 8)
    x = b.node("Relu", "up2.relu", [b.node("Concat", "skip3", [down2, x], axis=1)])
    x = b.batchnorm("up2.bn", b.conv("ConvTranspose", "up2", x, (16, 4, 4, 4), bias=False, strides=[2, 2],
                                     pads=[1, 1, 1, 1]), 4)
    x = b.node("Dropout", "up2.drop", [x, b.const("up2.drop.ratio", np.array(0.5, np.float32))])
    x = b.node("Relu", "up1.relu", [b.node("Concat", "skip2", [down1, x], axis=1)])
    x = b.conv("ConvTranspose", "up1", x, (8, CHANNELS, 4, 4), strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Tanh", "fake", [x])
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", CHANNELS, SIZE, SIZE])
    return b.model("unet_g", image, x, ["N", CHANNELS, SIZE, SIZE])


def resize_generator() -> onnx.ModelProto:
    """Upsample-then-conv (nearest x2 + 3x3 conv, twice) instead of transposed convs: noise 16 -> 3x16x16."""
    b = Builder(seed=5)
    x = b.node("Gemm", "fc", ["noise", b.weight("fc.weight", (256, NOISE)), b.weight("fc.bias", (256,))],
               transB=1)
    x = b.node("Reshape", "project", [x, b.const("project.shape", np.array([-1, 16, 4, 4], np.int64))])
    scales = b.const("up.scales", np.array([1, 1, 2, 2], np.float32))
    for i, (cin, cout) in enumerate(((16, 8), (8, CHANNELS)), start=1):
        x = b.node("Resize", f"up{i}", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                   nearest_mode="floor")
        x = b.conv("Conv", f"conv{i}", x, (cout, cin, 3, 3), pads=[1, 1, 1, 1])
        if i == 1:
            x = b.node("Relu", "relu1", [b.batchnorm("bn1", x, cout)])
    x = b.node("Tanh", "fake", [x])
    noise = helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["N", NOISE])
    return b.model("resize_g", noise, x, ["N", CHANNELS, SIZE, SIZE])


def patch_discriminator() -> onnx.ModelProto:
    """A PatchGAN discriminator: 3x16x16 -> conv 8x8x8 + lReLU -> conv 16x4x4 + IN + lReLU -> 3x3 conv to a
    1x4x4 map of logits (BCE with logits, as pix2pix)."""
    b = Builder(seed=6)
    x = b.conv("Conv", "conv1", "image", (8, CHANNELS, 4, 4), strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("LeakyRelu", "lrelu1", [x], alpha=0.2)
    x = b.conv("Conv", "conv2", x, (16, 8, 4, 4), bias=False, strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("LeakyRelu", "lrelu2", [b.instancenorm("in2", x, 16)], alpha=0.2)
    x = b.conv("Conv", "patch", x, (1, 16, 3, 3), pads=[1, 1, 1, 1])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", CHANNELS, SIZE, SIZE])
    return b.model("patch_d", image, x, ["N", 1, 4, 4])


MODELS = (("dcgan_g", generator), ("dcgan_d", discriminator), ("cyclegan_g", cyclegan_generator),
          ("unet_g", unet_generator), ("resize_g", resize_generator), ("patch_d", patch_discriminator))


def main(out_dir: str | None = None) -> list[Path]:
    out = Path(out_dir) if out_dir else Path(__file__).parent / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in MODELS:
        path = out / f"{name}.onnx"
        onnx.save(build(), str(path))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in main(sys.argv[1] if len(sys.argv) > 1 else None):
        print(p)

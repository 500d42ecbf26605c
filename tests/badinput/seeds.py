"""Valid inputs of every kind the tools read, small enough that a tool answers in a fraction of a second.

The fuzzer mutates these; the explicit cases edit them by hand. Built once per session (the programs
by the real compiler, the ONNX models with ``onnx.helper``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lergan_cc.cli.lerganc import main as lerganc

GAN = """# a tiny GAN from Table V strings
gan {
  generator     "10f-(16t-8t)(4k2s)-t1"
  discriminator "(1c-8c-16c)(4k2s)-f1"
  item 8x8
  replica_degree low
}
"""

NET = """# a tiny network in the verbose form
network {
  layer enc sconv 2x9x9 -> 4x5x5   kernel 3x3 stride 2 pads [1, 1, 1, 1]
  layer dec tconv 4x5x5 -> 2x10x10 kernel 3x3 stride 2 pads [1, 0, 1, 1] output_padding [1, 0]
  layer head dense 2x10x10 -> 6
  after hidden relu
  after output none
}
"""

VERBOSE_GAN = """gan {
  generator {
    layer G1 dense 8 -> 4x2x2
    layer G2 tconv 4x2x2 -> 1x4x4 kernel 4 stride 2 pads 1
  }
  discriminator {
    layer D1 sconv 1x4x4 -> 4x2x2 kernel 4 stride 2 pads 1
    layer D2 dense 4x2x2 -> 1
  }
}
"""

HW = """# a --hw override: a few keys of targets/lergan-3d.toml
[bank]
read_ns = 30.0
write_ns = 40.0

[memory]
total_mib = 16384
bank_mib = 2048

[interconnect]
horizontal_scale = 1.0
"""

BASELINES = """[gpu]
macs_per_s = 5.0e12
bytes_per_s = 4.8e11
value_bytes = 4
power_w = 250

[fpga-gan]
power_w = 25
"""


def _model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, list[object]],
    outputs: dict[str, list[object]],
    inits: dict[str, np.ndarray],
    name: str,
) -> bytes:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in outputs.items()],
        [numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f" else v, k) for k, v in inits.items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m.SerializeToString()


def onnx_generator() -> bytes:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Gemm", ["noise", "w1", "b1"], ["h"], name="fc", transB=1),
        helper.make_node("Reshape", ["h", "shape"], ["r"], name="reshape"),
        helper.make_node("Relu", ["r"], ["a"], name="relu"),
        helper.make_node(
            "ConvTranspose", ["a", "w2"], ["t"], name="up", strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[4, 4]
        ),
        helper.make_node("Tanh", ["t"], ["fake"], name="tanh"),
    ]
    inits = {
        "w1": 0.02 * rng.standard_normal((16, 8)),
        "b1": np.zeros(16),
        "shape": np.array([-1, 4, 2, 2]),
        "w2": 0.02 * rng.standard_normal((4, 1, 4, 4)),
    }
    return _model(nodes, {"noise": ["N", 8]}, {"fake": ["N", 1, 4, 4]}, inits, "g")


def onnx_discriminator() -> bytes:
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[4, 4]
        ),
        helper.make_node("LeakyRelu", ["c"], ["a"], name="lrelu", alpha=0.2),
        helper.make_node("Flatten", ["a"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w2"], ["y"], name="fc", transB=1),
        helper.make_node("Sigmoid", ["y"], ["p"], name="sig"),
    ]
    inits = {"w1": 0.02 * rng.standard_normal((4, 1, 4, 4)), "w2": 0.02 * rng.standard_normal((1, 16))}
    return _model(nodes, {"x": ["N", 1, 4, 4]}, {"p": ["N", 1]}, inits, "d")


def npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def build(tmp: Path) -> dict[str, bytes]:
    """name -> bytes of every seed."""
    seeds = {
        "gan.lergan": GAN.encode(),
        "net.lergan": NET.encode(),
        "vgan.lergan": VERBOSE_GAN.encode(),
        "hw.toml": HW.encode(),
        "baselines.toml": BASELINES.encode(),
        "g.onnx": onnx_generator(),
        "d.onnx": onnx_discriminator(),
    }
    for name, data in seeds.items():
        (tmp / name).write_bytes(data)
    for stem, args in {"gan": ["--batch", "2"], "net": ["--batch", "2"], "ognn": ["--batch", "2"]}.items():
        model = ["g.onnx", "--discriminator", "d.onnx"] if stem == "ognn" else [f"{stem}.lergan"]
        assert (
            lerganc(
                [
                    str(tmp / model[0]),
                    *[str(tmp / a) if a.endswith(".onnx") else a for a in model[1:]],
                    *args,
                    "-o",
                    str(tmp / f"{stem}.fsm"),
                ]
            )
            == 0
        )
        seeds[f"{stem}.fsm"] = (tmp / f"{stem}.fsm").read_bytes()
        seeds[f"{stem}.fsm.npz"] = (tmp / f"{stem}.fsm.npz").read_bytes()
    assert (
        lerganc([str(tmp / "gan.lergan"), "--emit", "ir", "--stop-after", "zero-insertion", "-o", str(tmp / "gan.lir")])
        == 0
    )
    seeds["gan.lir"] = (tmp / "gan.lir").read_bytes()
    assert lerganc([str(tmp / "net.lergan"), "--emit", "ir", "--stop-after", "import", "-o", str(tmp / "net.lir")]) == 0
    seeds["net.lir"] = (tmp / "net.lir").read_bytes()
    rng = np.random.default_rng(3)
    seeds["gan_in.npz"] = npz(
        noise=rng.standard_normal((2, 10)).astype(np.float32), real=rng.uniform(-1, 1, (2, 1, 8, 8)).astype(np.float32)
    )
    seeds["net_in.npz"] = npz(input=rng.standard_normal((2, 2, 9, 9)).astype(np.float32))
    return seeds

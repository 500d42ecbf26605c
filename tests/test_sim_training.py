"""GAN training on the simulator vs an independent reference (closed-form numpy backward, tests/gan_reference.py).

Small GANs built here as ONNX (2-D items 16x16 and 3-D items 8x8x8, a few channels, a
probability or a logit discriminator) are compiled with every ``--zero-free`` scheme; one
and three iterations of the DESIGN §8 training step must give the reference's losses,
gradients and updated weights to 1e-4 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lergan_cc.options import Options
from lergan_cc.sim.driver import SimOptions, simulate
from lergan_cc.sim.loader import load_program
from tests.conftest import compiled
from tests.gan_reference import reference

NOISE = 8


class _Net:
    def __init__(self, seed: int) -> None:
        self.rng, self.nodes, self.inits = np.random.default_rng(seed), [], []

    def init(self, name: str, data: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(data), name))
        return name

    def w(self, name: str, shape: tuple[int, ...], std: float = 0.3) -> str:
        return self.init(name, (std * self.rng.standard_normal(shape)).astype(np.float32))

    def node(self, op: str, name: str, inputs: list[str], **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def bn(self, name: str, x: str, c: int) -> str:
        return self.node("BatchNormalization", name, [
            x, self.init(f"{name}.scale", (1 + 0.1 * self.rng.standard_normal(c)).astype(np.float32)),
            self.init(f"{name}.bias", (0.1 * self.rng.standard_normal(c)).astype(np.float32)),
            self.init(f"{name}.mean", np.zeros(c, np.float32)), self.init(f"{name}.var", np.ones(c, np.float32))],
            epsilon=1e-5)

    def save(self, path: Path, inp: str, in_shape: list[object], out: str) -> Path:
        x = helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, path.stem, [x], [y], self.inits)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        return path


def make_gan(tmp: Path, rank: int, size: int, logit: bool, channels: int = 2) -> tuple[Path, Path]:
    """G: Gemm -> Reshape -> tconv K4 s2 + BN + ReLU -> tconv K5 s2 (pads 2, op 1) -> tanh; D mirrors with convs."""
    q, c1, c2 = size // 4, 4, 3
    g = _Net(1)
    x = g.node("Gemm", "fc", ["noise", g.w("fc.weight", (c1 * q**rank, NOISE)), g.w("fc.bias", (c1 * q**rank,))],
               transB=1)
    x = g.node("Reshape", "project", [x, g.init("project.shape", np.array([-1, c1] + [q] * rank, np.int64))])
    x = g.node("ConvTranspose", "tconv1", [x, g.w("tconv1.weight", (c1, c2) + (4,) * rank), g.w("tconv1.bias", (c2,))],
               strides=[2] * rank, pads=[1] * 2 * rank)
    x = g.node("Relu", "relu1", [g.bn("bn1", x, c2)])
    x = g.node("ConvTranspose", "tconv2", [x, g.w("tconv2.weight", (c2, channels) + (5,) * rank)],
               strides=[2] * rank, pads=[2] * 2 * rank, output_padding=[1] * rank)
    x = g.node("Tanh", "fake", [x])
    gp = g.save(tmp / "g.onnx", "noise", ["N", NOISE], x)
    d = _Net(2)
    d1, d2 = 3, 4
    y = d.node("Conv", "conv1", ["item", d.w("conv1.weight", (d1, channels) + (4,) * rank), d.w("conv1.bias", (d1,))],
               strides=[2] * rank, pads=[1] * 2 * rank)
    y = d.node("LeakyRelu", "lrelu1", [y], alpha=0.2)
    y = d.node("Conv", "conv2", [y, d.w("conv2.weight", (d2, d1) + (3,) * rank)], strides=[2] * rank,
               pads=[1] * 2 * rank)
    y = d.node("LeakyRelu", "lrelu2", [d.bn("bn2", y, d2)], alpha=0.2)
    y = d.node("Flatten", "flatten", [y])
    y = d.node("Gemm", "fc", [y, d.w("fc.weight", (1, d2 * q**rank)), d.w("fc.bias", (1,))], transB=1)
    if not logit:
        y = d.node("Sigmoid", "prob", [y])
    dp = d.save(tmp / "d.onnx", "item", ["N", channels] + [size] * rank, y)
    return gp, dp


def close(sim: np.ndarray, ref: np.ndarray, rtol: float = 1e-4, floor: float = 1e-3) -> bool:
    """Equal to ``rtol`` relative to the tensor's magnitude (IR dense weights are the ONNX ones transposed)."""
    if sim.shape != ref.shape and sim.T.shape == ref.shape:
        sim = sim.T
    scale = max(float(np.abs(ref).max()), floor)
    return float(np.abs(sim - ref).max()) <= rtol * scale


def compile_gan(gp: Path, dp: Path, zero_free: str, batch: int, target: str = "lergan-3d",
                replica: str = "low") -> tuple[object, dict]:
    options = Options(discriminator=str(dp), zero_free=zero_free, batch=batch, target=target, replica=replica)
    from lergan_cc.fsm.asm import parse_fsm

    e = compiled(str(gp), options)
    return parse_fsm(e.text, "gan.fsm"), e.tensors


CASES = [(2, 16, False), (3, 8, True)]


@pytest.mark.parametrize("zero_free", ["zfdr", "deform", "none"])
@pytest.mark.parametrize(("rank", "size", "logit"), CASES)
@pytest.mark.parametrize("iterations", [1, 3])
def test_training_matches_reference(tmp_path: Path, zero_free: str, rank: int, size: int, logit: bool,
                                    iterations: int) -> None:
    gp, dp = make_gan(tmp_path, rank, size, logit)
    batch, lr = 3, 0.05
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((batch, NOISE)).astype(np.float32)
    real = rng.uniform(-1, 1, (batch, 2) + (size,) * rank).astype(np.float32)
    program, tensors = compile_gan(gp, dp, zero_free, batch)
    result = simulate(program, "gan.fsm", tensors, SimOptions(iterations, lr, inputs={"noise": noise, "real": real}))
    ref = reference(gp, dp, noise, real, iterations, lr, logit)
    for key in ("loss_d", "loss_g"):
        np.testing.assert_allclose(result.losses[key], ref[key], rtol=1e-4, atol=1e-6)
    bad = [k for k, v in ref["params"].items() if not close(result.params[k], v)]
    assert not bad, f"updated weights differ: {bad}"
    # floor: a bias right before batch norm has an exactly zero gradient; float32 leaves ~1e-8 of noise
    bad = [k for k, v in ref["grads"].items() if not close(result.grads[k], v, floor=1e-2)]
    assert not bad, f"gradients differ: {bad}"


@pytest.mark.parametrize("replica", ["none", "high"])
def test_training_matches_reference_with_replicas(tmp_path: Path, replica: str) -> None:
    """Copies of a kind share its positions over several axes (``high``): still every gradient exact."""
    gp, dp = make_gan(tmp_path, 2, 16, False)
    rng = np.random.default_rng(11)
    noise = rng.standard_normal((2, NOISE)).astype(np.float32)
    real = rng.uniform(-1, 1, (2, 2, 16, 16)).astype(np.float32)
    program, tensors = compile_gan(gp, dp, "zfdr", 2, replica=replica)
    result = simulate(program, "gan.fsm", tensors, SimOptions(1, 0.05, inputs={"noise": noise, "real": real}))
    ref = reference(gp, dp, noise, real, 1, 0.05, False)
    np.testing.assert_allclose(result.losses["loss_d"], ref["loss_d"], rtol=1e-4, atol=1e-6)
    assert not [k for k, v in ref["params"].items() if not close(result.params[k], v)]
    assert not [k for k, v in ref["grads"].items() if not close(result.grads[k], v, floor=1e-2)]


def test_nonsaturating_g_loss(tmp_path: Path) -> None:
    gp, dp = make_gan(tmp_path, 2, 16, True)
    rng = np.random.default_rng(3)
    noise, real = rng.standard_normal((2, NOISE)).astype(np.float32), rng.uniform(-1, 1, (2, 2, 16, 16))
    program, tensors = compile_gan(gp, dp, "zfdr", 2, target="htree-2d")
    opts = SimOptions(1, 0.05, "nonsaturating", inputs={"noise": noise, "real": real.astype(np.float32)})
    result = simulate(program, "gan.fsm", tensors, opts)
    ref = reference(gp, dp, noise, real.astype(np.float32), 1, 0.05, True, "nonsaturating")
    np.testing.assert_allclose(result.losses["loss_g"], ref["loss_g"], rtol=1e-4)
    assert all(close(result.params[k], v) for k, v in ref["params"].items())


def test_loader_reads_only_the_files(tmp_path: Path) -> None:
    """The simulator's entry point takes a path: the .fsm and its .npz are all it reads."""
    from lergan_cc.cli.lerganc import main as lerganc

    gp, dp = make_gan(tmp_path, 2, 16, False)
    out = tmp_path / "p.fsm"
    assert lerganc([str(gp), "--discriminator", str(dp), "--batch", "2", "-o", str(out)]) == 0
    program, params = load_program(str(out))
    assert program.kind == "gan" and set(params) == {d.name for d in program.decls if d.kind == "param"} | {
        "onnx:G", "onnx:D"}  # and the source models, without their weights (for --write-onnx)

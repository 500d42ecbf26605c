"""Trained weights come back in the source model's names, shapes and layouts, and go back into the model.

A small GAN (tests/test_sim_training.py: a Gemm with ``transB=1`` as PyTorch's ``nn.Linear`` exports,
transposed convolutions, batch norm) is trained on the simulator; its ``--outputs`` weights must equal the
independent reference's (tests/gan_reference.py), which trains the model's own tensors, shape for shape.
``lergan_cc.write_onnx`` then writes both networks, and ``onnx.reference`` running them must give what it
gives on the source models with the reference's weights put in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

import lergan_cc
from lergan_cc.errors import LerganError
from tests.conftest import assert_one_line_error, run_cli
from tests.gan_reference import reference
from tests.test_sim_training import NOISE, make_gan

BATCH, LR, ITERATIONS = 3, 0.05, 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, lergan_cc.Program, lergan_cc.Result, dict]:
    tmp = tmp_path_factory.mktemp("gan")
    gp, dp = make_gan(tmp, 2, 16, False)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((BATCH, NOISE)).astype(np.float32)
    real = rng.uniform(-1, 1, (BATCH, 2, 16, 16)).astype(np.float32)
    program = lergan_cc.compile(gp, discriminator=dp, batch=BATCH)
    result = lergan_cc.simulate(program, iterations=ITERATIONS, lr=LR, inputs={"noise": noise, "real": real},
                                timing=False)
    return gp, dp, program, result, reference(gp, dp, noise, real, ITERATIONS, LR, False)


def with_weights(path: Path, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.name in weights:
            init.CopyFrom(numpy_helper.from_array(weights[init.name].astype(np.float32), init.name))
    return model


def test_outputs_are_the_models_tensors(trained: tuple) -> None:
    gp, dp, _, result, ref = trained
    inits = {f"{net}/{i.name}": numpy_helper.to_array(i) for net, p in (("G", gp), ("D", dp))
             for i in onnx.load(str(p)).graph.initializer}
    assert result.outputs["G/fc.weight"].shape == inits["G/fc.weight"].shape == (64, NOISE)  # (units, in)
    for key, want in ref["params"].items():
        assert result.outputs[key].shape == inits[key].shape, key
        np.testing.assert_allclose(result.outputs[key], want, rtol=1e-4, atol=1e-4 * np.abs(want).max(), err_msg=key)


def test_written_models_run_under_onnx_reference(trained: tuple, tmp_path: Path) -> None:
    gp, dp, program, result, ref = trained
    paths = lergan_cc.write_onnx(program, result, tmp_path / "trained.onnx")
    assert paths == [str(tmp_path / "trained.onnx"), str(tmp_path / "trained.discriminator.onnx")]
    z = np.random.default_rng(9).standard_normal((4, NOISE)).astype(np.float32)
    for net, source, path, feed in (("G", gp, paths[0], "noise"), ("D", dp, paths[1], "item")):
        written = onnx.load(path)
        expected = with_weights(source, {k[2:]: v for k, v in ref["params"].items() if k.startswith(f"{net}/")})
        x = z if net == "G" else np.tanh(np.random.default_rng(1).standard_normal((4, 2, 16, 16))).astype(np.float32)
        got = ReferenceEvaluator(written).run(None, {feed: x})[0]
        want = ReferenceEvaluator(expected).run(None, {feed: x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        assert [i.name for i in written.graph.initializer] == [i.name for i in onnx.load(str(source)).graph.initializer]


def test_written_generator_compiles_and_the_simulator_agrees(trained: tuple, tmp_path: Path) -> None:
    """The trained generator is a model like any other: compiled for inference it gives onnx.reference's."""
    _, _, program, result, _ = trained
    g_path = lergan_cc.write_onnx(program, result, tmp_path / "g.onnx")[0]
    z = np.random.default_rng(2).standard_normal((2, NOISE)).astype(np.float32)
    out = lergan_cc.simulate(lergan_cc.compile(g_path, mode="infer", batch=2), inputs={"noise": z}, timing=False)
    want = ReferenceEvaluator(onnx.load(g_path)).run(None, {"noise": z})[0]
    np.testing.assert_allclose(out.outputs["fake"], want, rtol=1e-4, atol=1e-5)


def test_outputs_fed_back_as_inputs_continue_the_training(trained: tuple) -> None:
    """--inputs takes weights in the model's layout too: one iteration, its weights fed back, a second one
    equals two iterations in one run (same noise and real batch)."""
    program = trained[2]
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((BATCH, NOISE)).astype(np.float32)
    real = rng.uniform(-1, 1, (BATCH, 2, 16, 16)).astype(np.float32)
    first = lergan_cc.simulate(program, lr=LR, inputs={"noise": noise, "real": real}, timing=False)
    weights = {k: v for k, v in first.outputs.items() if not k.startswith("loss")}
    second = lergan_cc.simulate(program, lr=LR, inputs={"noise": noise, "real": real, **weights}, timing=False)
    both = lergan_cc.simulate(program, iterations=2, lr=LR, inputs={"noise": noise, "real": real}, timing=False)
    for key in weights:
        np.testing.assert_allclose(second.outputs[key], both.outputs[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_nothing_to_write_is_an_error(tmp_path: Path) -> None:
    dsl = lergan_cc.compile("examples/dcgan.lergan", batch=2)
    with pytest.raises(LerganError, match="not compiled from ONNX models"):
        lergan_cc.write_onnx(dsl, lergan_cc.simulate(dsl, timing_only=True), tmp_path / "x.onnx")
    net = lergan_cc.compile("examples/onnx/dcgan_g.onnx", mode="infer", batch=2)
    with pytest.raises(LerganError, match="the program is an inference"):
        lergan_cc.write_onnx(net, lergan_cc.simulate(net, timing=False), tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())


def test_lergan_sim_write_onnx(tmp_path: Path) -> None:
    prog = tmp_path / "gan.fsm"
    assert run_cli("lerganc", "examples/onnx/dcgan_g.onnx", "--discriminator", "examples/onnx/dcgan_d.onnx",
                   "--batch", "2", "-o", prog).returncode == 0
    proc = run_cli("lergan-sim", prog, "--write-onnx", tmp_path / "t.onnx", "--outputs", tmp_path / "o.npz")
    assert proc.returncode == 0, proc.stderr
    trained = onnx.load(str(tmp_path / "t.onnx"))
    weights = {i.name: numpy_helper.to_array(i) for i in trained.graph.initializer}
    with np.load(tmp_path / "o.npz") as out:
        assert np.array_equal(weights["fc.weight"], out["G/fc.weight"])
    assert (tmp_path / "t.discriminator.onnx").is_file()
    assert_one_line_error(run_cli("lergan-sim", prog, "--timing-only", "--write-onnx", tmp_path / "u.onnx"),
                          "--write-onnx")
    assert not (tmp_path / "u.onnx").exists()

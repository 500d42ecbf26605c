"""GAN training with DAG networks on the simulator vs the independent reference (tests/gan_reference.py).

An unconditional GAN whose generator has a residual block (reflection and edge Pad, InstanceNormalization,
LeakyRelu, Add), a Dropout, a nearest Resize and a U-Net-style skip Concat, and whose discriminator has a
residual block of its own after a Dropout with a seed attribute (wrap Pad, InstanceNormalization, Add):
one and two iterations under every ``--zero-free`` scheme, and with sample-parallel copies, give the
reference's losses, gradients and updated weights to 1e-4 relative. The reference's new ops are checked
themselves: forward against ``onnx.reference``, backward against finite differences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.errors import LerganError
from lergan_cc.options import Options
from lergan_cc.sim.driver import SimOptions, simulate
from tests.conftest import compiled
from tests.gan_reference import Net, assert_central_differences, bce, reference
from tests.test_sim_training import _Net, close

NOISE, ITEM = 8, (2, 16, 16)


def _pad(n: _Net, name: str, x: str, mode: str, value: float | None = None) -> str:
    extra = [n.init(f"{name}.value", np.array(value, np.float32))] if value is not None else []
    return n.node("Pad", name, [x, n.init(f"{name}.pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), *extra],
                  mode=mode)


def _instancenorm(n: _Net, name: str, x: str, c: int) -> str:
    return n.node("InstanceNormalization", name, [
        x, n.init(f"{name}.scale", (1 + 0.1 * n.rng.standard_normal(c)).astype(np.float32)),
        n.init(f"{name}.bias", (0.1 * n.rng.standard_normal(c)).astype(np.float32))], epsilon=1e-5)


def make_dag_gan(tmp: Path, logit: bool, dropout: float = 0.5) -> tuple[Path, Path]:
    g = _Net(11)
    x = g.node("Gemm", "fc", ["noise", g.w("fc.weight", (64, NOISE)), g.w("fc.bias", (64,))], transB=1)
    x = g.node("Reshape", "project", [x, g.init("project.shape", np.array([-1, 4, 4, 4], np.int64))])
    x = g.node("ConvTranspose", "t1", [x, g.w("t1.weight", (4, 4, 4, 4)), g.w("t1.bias", (4,))], strides=[2, 2],
               pads=[1, 1, 1, 1])
    r1 = g.node("Relu", "r1", [_instancenorm(g, "in1", x, 4)])
    y = g.node("Conv", "res.c1", [_pad(g, "res.pad1", r1, "reflect"), g.w("res.c1.weight", (4, 4, 3, 3)),
                                  g.w("res.c1.bias", (4,))])
    y = g.node("LeakyRelu", "res.lrelu", [_instancenorm(g, "res.in", y, 4)], alpha=0.2)
    y = g.node("Conv", "res.c2", [_pad(g, "res.pad2", y, "edge"), g.w("res.c2.weight", (4, 4, 3, 3))])
    x = g.node("Add", "res", [r1, y])
    x = g.node("Dropout", "drop", [x, g.init("drop.ratio", np.array(dropout, np.float32))])
    up = g.node("Resize", "up", [x, "", g.init("up.scales", np.array([1, 1, 2, 2], np.float32))], mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    side = g.node("Conv", "side", [up, g.w("side.weight", (2, 4, 1, 1)), g.w("side.bias", (2,))])
    x = g.node("Concat", "skip", [up, side], axis=1)
    x = g.node("Conv", "out", [_pad(g, "out.pad", x, "constant", 0.5), g.w("out.weight", (2, 6, 3, 3))])
    x = g.node("Tanh", "fake", [x])
    gp = g.save(tmp / "g.onnx", "noise", ["N", NOISE], x)
    d = _Net(12)
    y = d.node("Conv", "c1", ["item", d.w("c1.weight", (3, 2, 4, 4)), d.w("c1.bias", (3,))], strides=[2, 2],
               pads=[1, 1, 1, 1])
    l1 = d.node("Dropout", "drop", [d.node("LeakyRelu", "l1", [y], alpha=0.2)], ratio=0.25, seed=5)
    r = d.node("Conv", "res.c", [_pad(d, "res.pad", l1, "wrap"), d.w("res.c.weight", (3, 3, 3, 3))])
    y = d.node("Add", "res", [_instancenorm(d, "res.in", r, 3), l1])
    y = d.node("Conv", "c2", [y, d.w("c2.weight", (4, 3, 3, 3))], strides=[2, 2], pads=[1, 1, 1, 1])
    y = d.node("Flatten", "flatten", [d.node("LeakyRelu", "l2", [y], alpha=0.2)])
    y = d.node("Gemm", "fc", [y, d.w("fc.weight", (1, 64)), d.w("fc.bias", (1,))], transB=1)
    if not logit:
        y = d.node("Sigmoid", "prob", [y])
    dp = d.save(tmp / "d.onnx", "item", ["N", *ITEM], y)
    return gp, dp


def _train(gp: Path, dp: Path, zero_free: str, iterations: int, batch: int = 3, seed: int = 0,
           **options: object) -> tuple[object, dict]:
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((batch, NOISE)).astype(np.float32)
    real = rng.uniform(-1, 1, (batch, *ITEM)).astype(np.float32)
    from lergan_cc.fsm.asm import parse_fsm

    e = compiled(str(gp), Options(discriminator=str(dp), zero_free=zero_free, batch=batch, **options))  # type: ignore[arg-type]
    opts = SimOptions(iterations, 0.05, seed=seed, inputs={"noise": noise, "real": real})
    return simulate(parse_fsm(e.text, "gan.fsm"), "gan.fsm", e.tensors, opts), \
        reference(gp, dp, noise, real, iterations, 0.05, "prob" not in [n.name for n in onnx.load(dp).graph.node],
                  seed=seed)


def _assert_matches(result: object, ref: dict) -> None:
    for key in ("loss_d", "loss_g"):
        np.testing.assert_allclose(result.losses[key], ref[key], rtol=1e-4, atol=1e-6)  # type: ignore[attr-defined]
    bad = [k for k, v in ref["params"].items() if not close(result.params[k], v)]  # type: ignore[attr-defined]
    assert not bad, f"updated weights differ: {bad}"
    # floor: a bias right before an instance norm has an exactly zero gradient; float32 leaves ~1e-8 of noise
    bad = [k for k, v in ref["grads"].items() if not close(result.grads[k], v, floor=1e-2)]  # type: ignore[attr-defined]
    assert not bad, f"gradients differ: {bad}"


@pytest.mark.parametrize("zero_free", ["zfdr", "deform", "none"])
@pytest.mark.parametrize(("logit", "iterations"), [(False, 1), (True, 2)])
def test_dag_gan_training_matches_reference(tmp_path: Path, zero_free: str, logit: bool, iterations: int) -> None:
    gp, dp = make_dag_gan(tmp_path, logit)
    _assert_matches(*_train(gp, dp, zero_free, iterations))


@pytest.mark.parametrize(("data_parallel", "target", "overlap"), [(2, "lergan-3d", "paper"), (3, "htree-2d", "none")])
def test_dag_gan_training_with_sample_parallel_copies(tmp_path: Path, data_parallel: int, target: str,
                                                      overlap: str) -> None:
    """Per-sample ops on sharded buffers; instance norms' scale and bias gradients as partial sums; the
    overlapped schedule (G's forward in the state that updates D) keeps the iteration's dropout mask."""
    gp, dp = make_dag_gan(tmp_path, True)
    _assert_matches(*_train(gp, dp, "zfdr", 2, data_parallel=data_parallel, target=target, overlap=overlap, seed=4))


def test_leaky_relu_with_negative_alpha_is_refused_in_training(tmp_path: Path) -> None:
    gp, dp = make_dag_gan(tmp_path, True)
    model = onnx.load(gp)
    next(a for n in model.graph.node if n.op_type == "LeakyRelu" for a in n.attribute).f = -0.1
    onnx.save(model, gp)
    with pytest.raises(LerganError, match=r"expand-training: layer res.lrelu: leaky_relu with alpha -0.1 < 0 has no"):
        compiled(str(gp), Options(discriminator=str(dp), batch=2))


def test_the_dropout_mask_follows_the_seed(tmp_path: Path) -> None:
    """Another --seed draws another mask (and the reference with it), so the test above is not blind to it."""
    gp, dp = make_dag_gan(tmp_path, True)
    a, _ = _train(gp, dp, "zfdr", 1, seed=1)
    b, ref_b = _train(gp, dp, "zfdr", 1, seed=2)
    _assert_matches(b, ref_b)
    assert not np.allclose(a.params["G/fc.weight"], b.params["G/fc.weight"])  # type: ignore[attr-defined]


# ---- the reference's new ops, checked themselves ---------------------------------------------------------
def _onnx(node: onnx.NodeProto, x: np.ndarray, inits: dict[str, np.ndarray]) -> np.ndarray:
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, None)],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])).run(
        None, {"x": x})[0]


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(["constant", "reflect", "edge", "wrap"]), pads=st.lists(st.integers(0, 4), min_size=4,
                                                                                   max_size=4),
       size=st.lists(st.integers(2, 4), min_size=2, max_size=2))
def test_reference_pad_matches_onnx_reference(mode: str, pads: list[int], size: list[int]) -> None:
    from tests.gan_reference import OPS

    x = np.random.default_rng(0).standard_normal((2, 2, *size))
    full = np.array([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], np.int64)
    value = np.array(0.25)
    ours = OPS["Pad"]([x, full, value], {"mode": mode})[0]
    node = helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)
    np.testing.assert_allclose(ours, _onnx(node, x, {"p": full, "v": value}), rtol=0, atol=0)


def test_reference_instancenorm_resize_concat_match_onnx_reference() -> None:
    from tests.gan_reference import OPS

    rng = np.random.default_rng(1)
    x, scale, bias = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-5)
    np.testing.assert_allclose(OPS["InstanceNormalization"]([x, scale, bias], {"epsilon": 1e-5})[0],
                               _onnx(node, x, {"s": scale, "b": bias}), rtol=1e-10, atol=1e-10)
    scales = np.array([1, 1, 2, 3], np.float32)
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    np.testing.assert_array_equal(OPS["Resize"]([x, None, scales], {})[0], _onnx(node, x, {"s": scales}))
    node = helper.make_node("Concat", ["x", "x"], ["y"], axis=-1)
    np.testing.assert_array_equal(OPS["Concat"]([x, x], {"axis": -1})[0], _onnx(node, x, {}))


def test_reference_dag_backward_matches_finite_differences(tmp_path: Path) -> None:
    """The reference's gradients of the DAG GAN (G through D) against central differences."""
    gp, dp = make_dag_gan(tmp_path, True)
    gen, disc = Net(gp), Net(dp)
    rng = np.random.default_rng(6)
    z = rng.standard_normal((2, NOISE))

    def loss() -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
        fake, back_g = gen.forward(z, (3, 0))
        d, back_d = disc.forward(fake, (3, 0))
        value, dd = bce(d, 1, True)
        dfake, d_grads = back_d(dd)
        return value, d_grads, back_g(dfake)[1]

    _, d_grads, g_grads = loss()
    assert_central_differences(loss, ((disc, d_grads), (gen, g_grads)), rng, per_param=2)


def test_a_value_read_by_two_layers_is_moved_to_each(tmp_path: Path) -> None:
    """With four crossbars a tile, the DAG GAN's layers spread over tiles: the Resize output ``up`` is read by
    the ``side`` conv on its own tile and by the ``skip`` concat at ``up``'s home. The program's transfers bring
    every value read twice to each of its readers: the timing model has none of them to move on its own."""
    from lergan_cc.fsm.asm import parse_fsm

    hw = tmp_path / "small.toml"
    hw.write_text("[memory]\ncarray_mib = 2\nsarray_mib = 124\n[crossbar]\nrows = 1024\ncols = 1024\n")
    gp, dp = make_dag_gan(tmp_path, True)
    e = compiled(str(gp), Options(discriminator=str(dp), batch=2, hw=str(hw), replica="none"))
    program = parse_fsm(e.text, "gan.fsm")
    buffers = program.table("buffer")
    home, side = (str(buffers[n].attrs["tile"]) for n in ("G/up", "G/side"))  # G and D share names: prefixed
    assert home != side
    moved = {str(i.operands["to"]) for s in program.states for i in s.body
             if i.op == "xfer" and i.operands["src"].name == "G/up"}  # type: ignore[union-attr]
    assert side in moved
    result = simulate(program, "gan.fsm", {}, SimOptions(timing_only=True, trace=True))
    assert result.timing is not None
    moves = {t.label for t in result.timing.record.tasks if t.op == "move"}
    read_twice = {"G/up", "G/r1", "D/drop", "G/r1.gsum", "G/up.gsum", "D/drop.gsum"}
    assert read_twice <= set(buffers) and not {f"move %{n}" for n in read_twice} & moves


@pytest.mark.parametrize("generator", ["cyclegan_g_dynamo", "unet_g_dynamo"])
def test_a_pytorch_exported_generator_trains_like_the_reference(generator: str) -> None:
    """The PyTorch-exported CycleGAN ResNet generator (reflection pads, instance norms whose shared ones/zeros
    initializers train as one parameter, residual adds) and U-Net (skip concats; eval-mode batch norms fold
    into the convs) against the PatchGAN example discriminator, on noise images."""
    root = Path(__file__).resolve().parent.parent
    gp, dp = root / "tests" / "fixtures" / "torch" / f"{generator}.onnx", root / "examples" / "onnx" / "patch_d.onnx"
    rng = np.random.default_rng(8)
    noise = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    real = rng.uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
    from lergan_cc.fsm.asm import parse_fsm

    e = compiled(str(gp), Options(discriminator=str(dp), batch=2))
    result = simulate(parse_fsm(e.text, "gan.fsm"), "gan.fsm", e.tensors,
                      SimOptions(2, 0.05, inputs={"noise": noise, "real": real}))
    _assert_matches(result, reference(gp, dp, noise, real, 2, 0.05, True))

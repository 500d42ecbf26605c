"""Inference on the simulator equals ``onnx.reference`` to 1e-4 relative, under every scheme and target.

The example generator through the command line, and hypothesis-drawn ONNX models: one
conv or tconv (1-3-D, groups, dilation, asymmetric pads, output_padding), optionally
followed by batch norm, an activation, flatten and a Gemm.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.errors import LerganError
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.options import Options
from lergan_cc.sim.driver import SimOptions, simulate
from tests.conftest import compiled

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "onnx"
SCHEMES = ("zfdr", "deform", "none")
TARGETS = ("lergan-3d", "htree-2d")


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(out - ref).max() / max(float(np.abs(ref).max()), 1e-30))


@pytest.mark.parametrize("zero_free", SCHEMES)
@pytest.mark.parametrize("target", TARGETS)
def test_example_generator_cli(tmp_path: Path, zero_free: str, target: str) -> None:
    model = onnx.load(EXAMPLES / "dcgan_g.onnx")
    x = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
    np.savez(tmp_path / "in.npz", noise=x)
    prog = tmp_path / "g.fsm"
    subprocess.run(["lerganc", str(EXAMPLES / "dcgan_g.onnx"), "--mode", "infer", "--batch", "2", "-o", str(prog),
                    "--zero-free", zero_free, "--target", target], check=True)
    subprocess.run(["lergan-sim", str(prog), "--inputs", str(tmp_path / "in.npz"), "--outputs",
                    str(tmp_path / "out.npz")], check=True, capture_output=True)
    ref = ReferenceEvaluator(model).run(None, {"noise": x})[0]
    out = np.load(tmp_path / "out.npz")[model.graph.output[0].name]
    assert relative_error(out, ref) < 1e-4


@st.composite
def conv_models(draw: st.DrawFn) -> tuple[onnx.ModelProto, np.ndarray]:
    rank = draw(st.integers(1, 3))
    transposed = draw(st.booleans())
    group = draw(st.sampled_from([1, 1, 2]))
    c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(rank)]
    s = [draw(st.integers(1, 3)) for _ in range(rank)]
    d = [draw(st.integers(1, 2)) for _ in range(rank)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * rank)]
    size = [draw(st.integers(1, 7 if rank < 3 else 4)) for _ in range(rank)]
    attrs: dict[str, object] = {"strides": s, "dilations": d, "pads": pads, "group": group}
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if transposed:
        attrs["output_padding"] = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True)]
        w = rng.standard_normal((c, m // group, *k))
    else:
        w = rng.standard_normal((m, c // group, *k))
    inits = [numpy_helper.from_array(w.astype(np.float32), "w")]
    inputs = ["x", "w"]
    if draw(st.booleans()):
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        inputs.append("b")
    # node names = output names: the IR names values after nodes, the simulator's keys after the IR's outputs
    nodes = [helper.make_node("ConvTranspose" if transposed else "Conv", inputs, ["y"], name="y", **attrs)]
    out = _tail(draw, nodes, inits, rng, m)
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c, *size])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, rng.standard_normal((2, c, *size)).astype(np.float32)


def _tail(draw: st.DrawFn, nodes: list, inits: list, rng: np.random.Generator, m: int) -> str:
    """Optional batch norm, an activation, and flatten + Gemm after the conv."""
    out = "y"
    if draw(st.booleans()):
        for name, v in (("scale", 1 + 0.1 * rng.standard_normal(m)), ("bias", rng.standard_normal(m)),
                        ("mean", rng.standard_normal(m)), ("var", 1 + rng.random(m))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), f"bn.{name}"))
        nodes.append(helper.make_node("BatchNormalization", [out, "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                                      ["bn"], name="bn", epsilon=1e-5))
        out = "bn"
    act = draw(st.sampled_from(["", "Relu", "LeakyRelu", "Tanh", "Sigmoid"]))
    if act:
        extra = {"alpha": 0.1} if act == "LeakyRelu" else {}
        nodes.append(helper.make_node(act, [out], ["act"], name="act", **extra))
        out = "act"
    if draw(st.booleans()):
        nodes.append(helper.make_node("Flatten", [out], ["flat"], name="flat"))
        units = draw(st.integers(1, 4))
        nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["fc"], name="fc", transB=1))
        inits += [numpy_helper.from_array(np.zeros((units, 1), np.float32), "fc.w"),
                  numpy_helper.from_array(rng.standard_normal(units).astype(np.float32), "fc.b")]
        out = "fc"
    return out


def _fix_gemm(model: onnx.ModelProto, x: np.ndarray) -> onnx.ModelProto:
    """Give the Gemm weight its real width, now that shape inference knows the flattened size."""
    names = [i.name for i in model.graph.initializer]
    if "fc.w" not in names:
        return model
    inter = helper.make_model(model.graph, opset_imports=model.opset_import)
    inter.graph.output.extend([helper.make_tensor_value_info("flat", TensorProto.FLOAT, None)])
    width = ReferenceEvaluator(inter).run(["flat"], {"x": x})[0].shape[1]
    i = names.index("fc.w")
    units = numpy_helper.to_array(model.graph.initializer[i]).shape[0]
    w = np.random.default_rng(width).standard_normal((units, width)).astype(np.float32)
    model.graph.initializer[i].CopyFrom(numpy_helper.from_array(w, "fc.w"))
    return model


def _ungrouped_transpose(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnx.reference's ConvTranspose is wrong for group > 1 (bias lands on the wrong channels): the
    reference runs ONNX's own definition instead — split the channels, one ConvTranspose per group, concat."""
    node = model.graph.node[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    group = int(attrs.get("group", 1))
    if node.op_type != "ConvTranspose" or group == 1:
        return model
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ws = np.split(inits["w"], group, axis=0)
    bs = np.split(inits["b"], group) if len(node.input) > 2 else [None] * group
    attrs["group"] = 1
    new_inits = [t for t in model.graph.initializer if t.name not in ("w", "b")]
    nodes = [helper.make_node("Split", ["x"], [f"x{j}" for j in range(group)], axis=1, num_outputs=group)]
    for j, (w, b) in enumerate(zip(ws, bs, strict=True)):
        new_inits.append(numpy_helper.from_array(w, f"w{j}"))
        ins = [f"x{j}", f"w{j}"]
        if b is not None:
            new_inits.append(numpy_helper.from_array(b, f"b{j}"))
            ins.append(f"b{j}")
        nodes.append(helper.make_node("ConvTranspose", ins, [f"y{j}"], **attrs))
    nodes.append(helper.make_node("Concat", [f"y{j}" for j in range(group)], [node.output[0]], axis=1))
    graph = helper.make_graph(nodes + list(model.graph.node[1:]), "ref", model.graph.input, model.graph.output,
                              new_inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_models())
def test_random_models_match_onnx_reference(tmp_path_factory: pytest.TempPathFactory,
                                           case: tuple[onnx.ModelProto, np.ndarray]) -> None:
    model, x = case
    try:
        model = _fix_gemm(model, x)
        ref = ReferenceEvaluator(_ungrouped_transpose(model)).run(None, {"x": x})[0]
    except Exception:  # an attribute set ONNX itself rejects (e.g. output size < 1)
        assume(False)
    path = tmp_path_factory.mktemp("m") / "m.onnx"
    onnx.save(model, path)
    for zero_free in SCHEMES:
        for target in TARGETS:
            try:
                e = compiled(path, Options(zero_free=zero_free, target=target, batch=2))
            except LerganError as e:
                assume("output" not in str(e))
                raise
            out = simulate(parse_fsm(e.text, "m.fsm"), "m.fsm", e.tensors, SimOptions(inputs={"x": x})).outputs
            assert relative_error(out[model.graph.output[0].name], ref) < 1e-4, (zero_free, target)


def test_outputs_are_keyed_by_the_onnx_output_names(tmp_path: Path) -> None:
    """DESIGN §8: the inference npz uses the model's input/output names, not the producing nodes' names."""
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["pixels", "w"], ["hidden"], name="dense_node"),
             helper.make_node("Tanh", ["hidden"], ["image"], name="tanh_node")]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    np.savez(tmp_path / "in.npz", pixels=x)
    compiled = subprocess.run(["lerganc", path, "--batch", "2", "-o", tmp_path / "m.fsm"], capture_output=True,
                              text=True)
    assert compiled.returncode == 0, compiled.stderr
    run = subprocess.run(["lergan-sim", tmp_path / "m.fsm", "--inputs", tmp_path / "in.npz", "--outputs",
                          tmp_path / "out.npz"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = np.load(tmp_path / "out.npz")
    assert list(out.keys()) == ["image"]
    np.testing.assert_allclose(out["image"], np.tanh(x @ w), rtol=1e-5)

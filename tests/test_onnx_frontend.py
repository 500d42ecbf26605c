"""The ONNX front end: shapes agree with onnx shape inference, every supported op, the
PyTorch fixtures of both exporters, the example GAN, and one-line errors through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.errors import LerganError
from lergan_cc.frontends.onnx_frontend import load_onnx, tconv_pads
from lergan_cc.ir.graph import Graph

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "torch").glob("*.onnx"))
EXAMPLES = ROOT / "examples"


# -- helpers ---------------------------------------------------------------------------


def model(nodes: list[onnx.NodeProto], inputs: dict[str, list], inits: dict[str, np.ndarray] | None = None,
          outputs: tuple[str, ...] = ("y",), opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def load(m: onnx.ModelProto, tmp_path: Path, name: str = "m.onnx") -> Graph:
    path = tmp_path / name
    onnx.save(m, str(path))
    return load_onnx(str(path))


def out_shape(g: Graph) -> tuple[int, ...]:
    return g.op(g.outputs[0]).shape


def inferred_output(m: onnx.ModelProto) -> tuple[int, ...]:
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return tuple(d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim)


def rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


# -- Conv / ConvTranspose against onnx shape inference ------------------------------------------


@st.composite
def conv_cases(draw: st.DrawFn, transposed: bool) -> tuple[onnx.ModelProto, dict]:
    n = draw(st.integers(1, 3))
    group = draw(st.sampled_from([1, 2, 3]))
    cin, cout = group * draw(st.integers(1, 2)), group * draw(st.integers(1, 2))
    axes = st.lists(st.integers(1, 3), min_size=n, max_size=n)
    kernel, stride, dilation = draw(axes), draw(axes), draw(axes)
    size = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    attrs: dict = {"kernel_shape": kernel, "strides": stride, "dilations": dilation, "group": group}
    modes = ["pads", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"] + (["output_shape"] if transposed else [])
    mode = draw(st.sampled_from(modes))
    if mode == "pads":
        attrs["pads"] = draw(st.lists(st.integers(0, 3), min_size=2 * n, max_size=2 * n))
    elif mode != "output_shape":
        attrs["auto_pad"] = mode
    if transposed:
        attrs["output_padding"] = [draw(st.integers(0, s - 1)) for s in stride]
        if mode == "output_shape":
            full = [s * (i - 1) + op + (k - 1) * d + 1
                    for i, s, op, k, d in zip(size, stride, attrs["output_padding"], kernel, dilation, strict=True)]
            attrs["output_shape"] = [f - draw(st.integers(0, min(f - 1, 4))) for f in full]
            attrs["auto_pad"] = draw(st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER"]))
    batch = draw(st.sampled_from(["N", 1, 3]))
    wshape = (cin, cout // group, *kernel) if transposed else (cout, cin // group, *kernel)
    op = "ConvTranspose" if transposed else "Conv"
    with_bias = draw(st.booleans())
    ins = ["x", "w", "b"] if with_bias else ["x", "w"]
    inits = {"w": rand(*wshape), **({"b": rand(cout)} if with_bias else {})}
    m = model([helper.make_node(op, ins, ["y"], name="conv", **attrs)], {"x": [batch, cin, *size]}, inits)
    return m, {"size": size, **attrs}


def _conv_valid(case: dict) -> bool:
    """Conv cases whose output would be empty are not valid models (shape inference rejects them)."""
    n = len(case["size"])
    pads = case.get("pads", [0] * 2 * n) if case.get("auto_pad", "NOTSET") in ("NOTSET", "VALID") else None
    if pads is None:
        return True
    spans = [(k - 1) * d + 1 for k, d in zip(case["kernel_shape"], case["dilations"], strict=True)]
    return all(i + pads[a] + pads[a + n] >= s for a, (i, s) in enumerate(zip(case["size"], spans, strict=True)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases(transposed=False))
def test_conv_shapes_match_onnx_shape_inference(tmp_path_factory: pytest.TempPathFactory, case: tuple) -> None:
    m, attrs = case
    if not _conv_valid(attrs):
        return
    g = load(m, tmp_path_factory.mktemp("conv"))
    assert out_shape(g) == inferred_output(m)[1:]
    assert g.op("conv").OP == "sconv"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases(transposed=True))
def test_conv_transpose_shapes_match_onnx_shape_inference(tmp_path_factory: pytest.TempPathFactory,
                                                          case: tuple) -> None:
    m, a = case
    n = len(a["size"])
    pads = tconv_pads(a.get("auto_pad", "NOTSET"), tuple(a["size"]), tuple(a["kernel_shape"]), tuple(a["strides"]),
                      tuple(a["dilations"]), tuple(a["output_padding"]), tuple(a.get("pads", ())),
                      tuple(a.get("output_shape", ())))
    tmp = tmp_path_factory.mktemp("tconv")
    if min(pads[:n]) < 0:  # output before the first position any input reaches: a one-line error
        with pytest.raises(LerganError, match=r"node 'conv' \(ConvTranspose\): unsupported attribute value"):
            load(m, tmp)
        return  # (a negative end pad is output padding: compared below)
    spans = [(k - 1) * d + 1 for k, d in zip(a["kernel_shape"], a["dilations"], strict=True)]
    full = [s * (i - 1) + op + k for s, i, op, k in zip(a["strides"], a["size"], a["output_padding"], spans,
                                                        strict=True)]
    if any(f - pads[i] - pads[i + n] < 1 for i, f in enumerate(full)):
        return  # explicit pads that leave no output: not a valid model
    g = load(m, tmp)
    expected = inferred_output(m)[1:]
    if "output_shape" in a and len(expected) != n + 1:
        # onnx 1.23's shape inference gives up (infers only [N, C]) when an output_shape entry
        # is smaller than the input's size; the spec says the output is exactly output_shape.
        expected = (g.op("conv").out_channels, *a["output_shape"])  # type: ignore[attr-defined]
    elif a.get("auto_pad", "").startswith("SAME") and "output_shape" not in a and (any(a["output_padding"])
                                                                                  or min(pads[n:]) < 0):
        # onnx shape inference adds output_padding on top of input*stride for SAME_*, and gives less than
        # input*stride when the kernel is shorter than the stride; the spec text and onnx.reference give
        # exactly input*stride (output_padding goes into the pads, a negative end pad is output padding).
        expected = (g.op("conv").out_channels, *(i * s for i, s in zip(a["size"], a["strides"], strict=True)))  # type: ignore[attr-defined]
    assert out_shape(g) == expected
    assert len(g.op("conv").pads) == 2 * n  # type: ignore[attr-defined]


@pytest.mark.parametrize(("attrs", "pads"), [
    ({"strides": [2], "auto_pad": "SAME_UPPER"}, (0, 1)),
    ({"strides": [2], "auto_pad": "SAME_LOWER"}, (1, 0)),
    ({"strides": [2], "output_shape": [7], "auto_pad": "SAME_UPPER"}, (1, 1)),
    ({"strides": [2], "output_shape": [8]}, (1, 0)),  # NOTSET: the odd pixel goes to the beginning
    ({"strides": [2], "pads": [2, 0]}, (2, 0)),
    ({"strides": [2], "output_padding": [1], "pads": [1, 1]}, (1, 1)),
    ({"strides": [2], "output_padding": [1], "auto_pad": "SAME_UPPER"}, (1, 1)),
    ({"strides": [3], "output_padding": [1], "auto_pad": "SAME_LOWER"}, (1, 0)),
])
def test_conv_transpose_pads_follow_the_spec_and_reference(tmp_path: Path, attrs: dict, pads: tuple) -> None:
    """Resolved pads reproduce onnx.reference's output when fed back as explicit pads."""
    x, w = rand(1, 1, 4), rand(1, 1, 3)
    m = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="t", **attrs)], {"x": [1, 1, 4]}, {"w": w})
    g = load(m, tmp_path)
    op = g.op("t")
    assert op.pads == pads  # type: ignore[attr-defined]
    explicit = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=attrs["strides"], pads=list(pads),
                                       output_padding=list(op.output_padding))],  # type: ignore[attr-defined]
                     {"x": [1, 1, 4]}, {"w": w})
    want = ReferenceEvaluator(explicit).run(None, {"x": x})[0]
    assert want.shape[2:] == op.shape[1:]
    if "output_shape" not in attrs or attrs.get("auto_pad", "NOTSET") != "NOTSET":
        got = ReferenceEvaluator(m).run(None, {"x": x})[0]  # the reference cannot run NOTSET + output_shape
        np.testing.assert_allclose(got, want, rtol=1e-6)


# -- every supported op ----------------------------------------------------------------------


@pytest.mark.parametrize(("trans_b", "alpha", "beta", "c_shape"), [
    (0, 1.0, 1.0, (5,)), (1, 1.0, 1.0, (5,)), (1, 0.5, 2.0, (1, 5)), (0, 2.0, 3.0, ()), (1, 1.0, 1.0, None)])
def test_gemm_stores_the_weight_in_in_units_layout(tmp_path: Path, trans_b: int, alpha: float, beta: float,
                                                   c_shape: tuple | None) -> None:
    b = rand(5, 4) if trans_b else rand(4, 5)
    inits = {"B": b, **({"C": rand(*c_shape)} if c_shape is not None else {})}
    ins = ["x", "B", "C"] if c_shape is not None else ["x", "B"]
    m = model([helper.make_node("Gemm", ins, ["y"], name="fc", transB=trans_b, alpha=alpha, beta=beta)],
              {"x": ["N", 4]}, inits)
    g = load(m, tmp_path)
    op = g.op("fc")
    assert (op.OP, op.shape, g.params["B"].shape) == ("dense", (5,), (4, 5))
    x = rand(3, 4)
    y = x @ g.tensors["B"] + (g.tensors["C"] if c_shape is not None else 0)
    np.testing.assert_allclose(y, ReferenceEvaluator(m).run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_add_fuses_into_one_dense(tmp_path: Path, bias_first: bool) -> None:
    add_in = ["b", "h"] if bias_first else ["h", "b"]
    m = model([helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
               helper.make_node("Add", add_in, ["y"], name="add")], {"x": ["N", 3]}, {"W": rand(3, 2), "b": rand(2)})
    g = load(m, tmp_path)
    assert [op.OP for op in g.ops()] == ["input", "dense"]
    assert (g.op("mm").bias, g.outputs) == ("b", ["mm"])  # type: ignore[attr-defined]


def test_matmul_without_bias_and_unfusable_add(tmp_path: Path) -> None:
    g = load(model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": ["N", 3]}, {"W": rand(3, 2)}), tmp_path)
    assert g.op("MatMul_0").bias is None  # type: ignore[attr-defined]
    two_users = model([helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                       helper.make_node("Add", ["h", "b"], ["y"], name="add"),
                       helper.make_node("Relu", ["h"], ["z"], name="r")],
                      {"x": ["N", 3]}, {"W": rand(3, 2), "b": rand(2)}, outputs=("y", "z"))
    with pytest.raises(LerganError, match=r"node 'add' \(Add\): unsupported op"):
        load(two_users, tmp_path, "two.onnx")


@pytest.mark.parametrize(("op", "attrs", "kind", "extra"), [
    ("Relu", {}, "relu", {}), ("LeakyRelu", {}, "leaky_relu", {"alpha": 0.01}),
    ("LeakyRelu", {"alpha": 0.2}, "leaky_relu", {"alpha": 0.2}), ("Tanh", {}, "tanh", {}),
    ("Sigmoid", {}, "sigmoid", {})])
def test_activations(tmp_path: Path, op: str, attrs: dict, kind: str, extra: dict) -> None:
    g = load(model([helper.make_node(op, ["x"], ["y"], name="a", **attrs)], {"x": ["N", 2, 3]}), tmp_path)
    a = g.op("a")
    assert (a.OP, a.shape) == (kind, (2, 3))
    assert {k: a.attrs()[k] for k in extra} == extra


def test_batchnorm(tmp_path: Path) -> None:
    inits = {"s": rand(3), "b": rand(3), "m": rand(3), "v": np.ones(3, np.float32)}
    m = model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", epsilon=1e-3,
                                momentum=0.8)], {"x": ["N", 3, 4, 4]}, inits)
    bn = load(m, tmp_path).op("bn")
    assert (bn.OP, bn.shape, bn.epsilon, bn.momentum, bn.mean) == ("batchnorm", (3, 4, 4), 1e-3, 0.8, "m")  # type: ignore[attr-defined]


def test_batchnorm_training_statistics_outputs_must_be_unused(tmp_path: Path) -> None:
    inits = {"s": rand(3), "b": rand(3), "m": rand(3), "v": np.ones(3, np.float32)}
    m = model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], name="bn",
                                training_mode=1)], {"x": ["N", 3, 4]}, inits, outputs=("y", "rm"))
    with pytest.raises(LerganError, match=r"output 'rm' \(the running mean\) is used"):
        load(m, tmp_path)


@pytest.mark.parametrize(("axis", "ok"), [(1, True), (-2, True), (0, False), (2, False), (-3, False)])
def test_flatten_axis(tmp_path: Path, axis: int, ok: bool) -> None:
    """axis=1 is the IR's flatten; any other axis regroups the batch, which needs a static batch."""
    m = model([helper.make_node("Flatten", ["x"], ["y"], name="f", axis=axis)], {"x": ["N", 2, 3]})
    if ok:
        assert load(m, tmp_path).op("f").shape == (6,)
    else:
        with pytest.raises(LerganError, match=rf"node 'f' \(Flatten\): axis={axis} regroups the batch, which needs "
                                              "a static batch size"):
            load(m, tmp_path)


@pytest.mark.parametrize(("target", "allowzero", "batch", "shape"), [
    ([-1, 3, 4], 0, "N", (3, 4)), ([0, 4, -1], 0, "N", (4, 3)), ([0, 0, 4], 0, "N", (3, 4)),
    ([-1, 12], 1, "N", (12,)), ([2, 6, 2], 0, 2, (6, 2))])
def test_reshape_from_initializer(tmp_path: Path, target: list, allowzero: int, batch: object, shape: tuple) -> None:
    m = model([helper.make_node("Reshape", ["x", "s"], ["y"], name="r", allowzero=allowzero)],
              {"x": [batch, 3, 4]}, {"s": np.array(target, np.int64)})
    assert load(m, tmp_path).op("r").shape == shape


@pytest.mark.parametrize("target", [[-1], [2, 6, 2], [-1, 6], [0, 0, 4, 0]])
def test_reshape_that_moves_the_batch_is_an_error(tmp_path: Path, target: list) -> None:
    m = model([helper.make_node("Reshape", ["x", "s"], ["y"], name="r")], {"x": ["N", 3, 4]},
              {"s": np.array(target, np.int64)})
    with pytest.raises(LerganError, match=r"node 'r' \(Reshape\)"):
        load(m, tmp_path)


def _shape_subgraph(scale_batch: bool, opset: int) -> onnx.ModelProto:
    """Reshape to [Shape(x)[0] (times 2 when scale_batch), 4, -1], as exporters build it."""
    axes = {"axes": [0]} if opset < 13 else {}
    unsq_in = ["b"] if opset < 13 else ["b", "zero"]
    nodes = [helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Gather", ["shp", "zero0"], ["b0"], axis=0),
             helper.make_node("Mul", ["b0", "two"], ["b"]) if scale_batch
             else helper.make_node("Identity", ["b0"], ["b"]),
             helper.make_node("Unsqueeze", unsq_in, ["bu"], **axes),
             helper.make_node("Constant", [], ["rest"], value=numpy_helper.from_array(np.array([4, -1], np.int64))),
             helper.make_node("Concat", ["bu", "rest"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="r")]
    inits = {"zero0": np.array(0, np.int64), "zero": np.array([0], np.int64), "two": np.array(2, np.int64)}
    return model(nodes, {"x": ["N", 3, 4]}, inits, opset=opset)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_reshape_target_folded_from_a_shape_subgraph(tmp_path: Path, opset: int) -> None:
    g = load(_shape_subgraph(False, opset), tmp_path)
    assert [op.OP for op in g.ops()] == ["input", "reshape"]
    assert g.op("r").shape == (4, 3)
    with pytest.raises(LerganError, match="does not keep the batch dimension first"):
        load(_shape_subgraph(True, opset), tmp_path, "scaled.onnx")


def test_identity_and_dropout(tmp_path: Path) -> None:
    """Identity is forwarded; Dropout stays an op (the identity in inference, a seeded mask in training)."""
    m = model([helper.make_node("Identity", ["x"], ["a"]), helper.make_node("Dropout", ["a"], ["b"], ratio=0.3),
               helper.make_node("Relu", ["b"], ["y"], name="r")], {"x": ["N", 5]}, opset=11)
    g = load(m, tmp_path)
    assert [op.OP for op in g.ops()] == ["input", "dropout", "relu"] and g.op("Dropout_1").inputs == ("x",)
    assert g.op("Dropout_1").ratio == 0.3 and not g.op("Dropout_1").training_mode  # type: ignore[attr-defined]
    m13 = model([helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="d", seed=7)], {"x": ["N", 5]},
                {"t": np.array(False), "r": np.array(0.25, np.float32)}, opset=13)
    d = load(m13, tmp_path, "d13.onnx").op("d")
    assert (d.ratio, d.seed, d.training_mode) == (0.25, 7, False)  # type: ignore[attr-defined]


def test_dropout_in_training_mode_is_kept(tmp_path: Path) -> None:
    m = model([helper.make_node("Dropout", ["x", "", "t"], ["y"], name="d")], {"x": ["N", 5]},
              {"t": np.array(True)}, opset=13)
    assert load(m, tmp_path).op("d").training_mode  # type: ignore[attr-defined]
    ratio_one = model([helper.make_node("Dropout", ["x"], ["y"], name="d", ratio=1.0)], {"x": ["N", 5]}, opset=11)
    with pytest.raises(LerganError, match=r"node 'd' \(Dropout\): ratio 1 is not in \[0, 1\)"):
        load(ratio_one, tmp_path, "one.onnx")


def test_unnamed_nodes_get_stable_names_and_params_float32(tmp_path: Path) -> None:
    m = model([helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1]), helper.make_node("Tanh", ["h"], ["y"])],
              {"x": ["N", 2, 5]}, {"w": rand(4, 2, 3).astype(np.float64)})
    g = load(m, tmp_path)
    assert [op.name for op in g.ops()] == ["x", "Conv_0", "Tanh_1"]
    assert g.tensors["w"].dtype == np.float32 and g.params["w"].shape == (4, 2, 3)
    assert g.op("x").layer == "x" and g.model == "m"


def test_constant_folding_of_weights(tmp_path: Path) -> None:
    """A weight computed from initializers (here a Transpose) is folded and stored under its value name."""
    m = model([helper.make_node("Transpose", ["wt"], ["w"], perm=[1, 0]),
               helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": ["N", 3]}, {"wt": rand(2, 3)})
    g = load(m, tmp_path)
    np.testing.assert_array_equal(g.tensors["w"], rand(2, 3).T)


# -- PyTorch fixtures and examples ------------------------------------------------------------


def test_fixtures_cover_both_exporters() -> None:
    names = {p.stem for p in FIXTURES}
    for model_name in ("dcgan_g", "dcgan_d", "conv1d", "conv3d", "cyclegan_g", "unet_g", "resize_g"):
        assert {f"{model_name}_ts", f"{model_name}_dynamo"} <= names
    assert all(p.stat().st_size < 200_000 for p in FIXTURES)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_torch_fixture_imports_with_inferred_shapes(path: Path) -> None:
    g = load_onnx(str(path))
    m = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    by_output = {n.output[0]: n.name for n in m.graph.node}
    checked = 0
    for vi in [*m.graph.value_info, *m.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        name = by_output.get(vi.name)
        if name in g and len(dims) >= 2 and all(d.HasField("dim_value") for d in dims[1:]):
            assert g.op(name).shape == tuple(d.dim_value for d in dims[1:]), vi.name
            checked += 1
    if not checked:  # pads computed at run time (TorchScript's ReflectionPad2d): shapes from onnx.reference
        for name, shape in _reference_shapes(m).items():
            if by_output.get(name) in g:
                assert g.op(by_output[name]).shape == shape[1:], name
                checked += 1
    assert checked >= 2
    assert {op.OP for op in g.ops()} & {"sconv", "tconv"}


def _reference_shapes(m: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """The shape of every node output when onnx.reference runs the model on a batch of 2."""
    names = [o for n in m.graph.node for o in n.output if o]
    graph = helper.make_graph(m.graph.node, "all", m.graph.input, [helper.make_value_info(n, onnx.TypeProto())
                                                                  for n in names], m.graph.initializer)
    x = m.graph.input[0]
    shape = [2, *(d.dim_value for d in x.type.tensor_type.shape.dim[1:])]
    values = ReferenceEvaluator(helper.make_model(graph, opset_imports=m.opset_import)).run(
        None, {x.name: np.zeros(shape, np.float32)})
    return {n: tuple(np.shape(v)) for n, v in zip(names, values, strict=True)}


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lergan_cc.cli.lerganc", *args], capture_output=True, text=True)


@pytest.mark.parametrize("exporters", [("ts", "ts"), ("dynamo", "dynamo_noopt"), ("dynamo_noopt", "ts")])
def test_torch_gan_through_the_cli(exporters: tuple[str, str]) -> None:
    gen, disc = (ROOT / "tests" / "fixtures" / "torch" / f"dcgan_{n}_{e}.onnx" for n, e in zip("gd", exporters,
                                                                                               strict=True))
    proc = _run_cli(str(gen), "--discriminator", str(disc), "--stop-after", "import", "--emit", "ir-json")
    assert proc.returncode == 0, proc.stderr
    nodes = json.loads(proc.stdout)["nodes"]
    phases = {n["phase"] for n in nodes}
    assert phases == {"G_fwd", "D_fwd"}
    assert {n["op"] for n in nodes if n["phase"] == "G_fwd"} >= {"dense", "reshape", "tconv", "tanh"}
    assert {n["op"] for n in nodes if n["phase"] == "D_fwd"} >= {"sconv", "leaky_relu", "dense", "sigmoid"}


def test_examples_regenerate_identically_and_import(tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import make_onnx_examples
    finally:
        sys.path.remove(str(EXAMPLES))
    for path in make_onnx_examples.main(str(tmp_path)):
        assert path.read_bytes() == (EXAMPLES / "onnx" / path.name).read_bytes()
        g = load_onnx(str(path))
        assert len(g.inputs()) == 1 and len(g.outputs) == 1
    assert out_shape(load_onnx(str(tmp_path / "dcgan_g.onnx"))) == (3, 16, 16)


# -- errors through the CLI --------------------------------------------------------------------


def _error_models(tmp: Path) -> dict[str, tuple[Path, str]]:
    pad = model([helper.make_node("Softmax", ["x"], ["y"], name="Softmax_4")], {"x": ["N", 3]})
    auto = model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv3", auto_pad="SAME_UPPER")],
                 {"x": ["N", 1, 5]}, {"w": rand(1, 1, 3)})
    auto.graph.node[0].attribute[0].s = b"SAME_MIDDLE"  # the checker does not validate string values
    good = (EXAMPLES / "onnx" / "dcgan_g.onnx").read_bytes()
    files = {"pad.onnx": pad.SerializeToString(), "autopad.onnx": auto.SerializeToString(),
             "truncated.onnx": good[: len(good) // 3], "text.onnx": b"this is not an onnx model\n" * 4}
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    return {
        "unsupported op": (tmp / "pad.onnx", "node 'Softmax_4' (Softmax): unsupported op"),
        "unsupported attribute": (tmp / "autopad.onnx",
                                  "node 'conv3' (Conv): unsupported attribute value auto_pad=SAME_MIDDLE"),
        "truncated": (tmp / "truncated.onnx", "not a valid ONNX model"),
        "non-onnx": (tmp / "text.onnx", "not a valid ONNX model"),
        "missing": (tmp / "missing.onnx", "missing.onnx: no such file"),
    }


@pytest.mark.parametrize("case", ["unsupported op", "unsupported attribute", "truncated", "non-onnx", "missing"])
def test_cli_errors_are_one_line_and_leave_output_alone(tmp_path: Path, case: str) -> None:
    path, message = _error_models(tmp_path)[case]
    out = tmp_path / "out.lir"
    out.write_text("keep me\n")
    proc = _run_cli(str(path), "--stop-after", "import", "--emit", "ir", "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("lerganc: error: ") and message in lines[0], lines[0]
    assert out.read_text() == "keep me\n"


def test_unknown_attribute_is_rejected_not_ignored(tmp_path: Path) -> None:
    m = model([helper.make_node("Relu", ["x"], ["y"], name="r", beta=2.0)], {"x": ["N", 3]})
    with pytest.raises(LerganError, match=r"node 'r' \(Relu\): unsupported attribute value beta=2"):
        load(m, tmp_path)


def test_batchnorm_training_mode_keeps_batch_statistics(tmp_path: Path) -> None:
    c = 3
    inits = {n: np.ones(c, np.float32) for n in ("s", "b", "m", "v")}
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", training_mode=1)
    m = model([node], {"x": ["N", c, 4]}, inits, opset=15)
    assert load(m, tmp_path).op("bn").attrs()["batch_statistics"] is True

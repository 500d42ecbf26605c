"""Tensors the model lays out otherwise than the IR's (batch, per-sample...): Flatten with any axis, Gemm
``transA=1``, MatMul of N-d and 1-D operands, inputs without a channel axis (docs/onnx.md, *Regrouped
tensors*). Compiled, simulated and compared with ``onnx.reference`` over drawn shapes; the places a
regrouped tensor cannot go are one-line errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import lergan_cc
from lergan_cc.errors import LerganError


def model(nodes: list[onnx.NodeProto], inputs: dict[str, list[int]], inits: dict[str, np.ndarray],
          outputs: tuple[str, ...] = ("y",)) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def check(m: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    """The simulator's outputs equal onnx.reference's in shape and value."""
    program = lergan_cc.compile(m, mode="infer")
    out = lergan_cc.simulate(program, inputs=feeds, timing=False).outputs
    ref = ReferenceEvaluator(m).run(None, feeds)
    for vi, want in zip(m.graph.output, ref, strict=True):
        assert out[vi.name].shape == want.shape
        np.testing.assert_allclose(out[vi.name], want, rtol=1e-4, atol=1e-5)


@st.composite
def matmuls(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Operand shapes numpy multiplies: 1-D or N-d, leading axes broadcast (1 against n, n against n)."""
    nd = draw(st.integers(0, 2))
    sizes = [draw(st.integers(1, 3)) for _ in range(nd)]
    a_lead = [draw(st.sampled_from([1, s])) for s in sizes]
    b_lead = [s if a != s else draw(st.sampled_from([1, s])) for a, s in zip(a_lead, sizes, strict=True)]
    k = draw(st.integers(1, 4))
    a = (*a_lead[draw(st.integers(0, nd)):], draw(st.integers(1, 3)), k) if draw(st.booleans()) else (k,)
    b = (*b_lead[draw(st.integers(0, nd)):], k, draw(st.integers(1, 3))) if draw(st.booleans()) else (k,)
    return a, b


@settings(max_examples=25, deadline=None)
@given(matmuls(), st.integers(0, 2**16))
def test_matmul_of_any_rank(shapes: tuple[tuple[int, ...], tuple[int, ...]], seed: int) -> None:
    a, b = shapes
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(b)
    m = model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], {"a": list(a)}, {"b": w})
    check(m, {"a": rng.standard_normal(a).astype(np.float32)})


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.data())
def test_flatten_any_axis_then_an_activation(shape: list[int], data: st.DataObject) -> None:
    """Flatten regroups the batch; the activation after it keeps the regrouped view to the output."""
    axis = data.draw(st.integers(-len(shape), len(shape)))
    m = model([helper.make_node("Flatten", ["x"], ["f"], name="f", axis=axis),
               helper.make_node("Tanh", ["f"], ["y"], name="t")], {"x": shape}, {})
    check(m, {"x": np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)})


def test_flatten_to_one_row_feeds_a_dense_layer() -> None:
    """Flatten(axis=0) of the input is one sample of every value: the host hands the input over so."""
    rng = np.random.default_rng(0)
    m = model([helper.make_node("Flatten", ["x"], ["f"], name="f", axis=0),
               helper.make_node("Gemm", ["f", "w", "c"], ["y"], name="fc", transB=1)],
              {"x": [2, 3, 2]}, {"w": rng.standard_normal((5, 12)), "c": rng.standard_normal(5)})
    check(m, {"x": rng.standard_normal((2, 3, 2)).astype(np.float32)})
    assert lergan_cc.compile(m, mode="infer").batch == 1


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_trans_a_hands_the_input_over_transposed(trans_b: int) -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 6) if trans_b else (6, 4))
    m = model([helper.make_node("Gemm", ["a", "w", "c"], ["h"], name="g", transA=1, transB=trans_b, alpha=0.5),
               helper.make_node("Relu", ["h"], ["y"], name="r")], {"a": [6, 3]},
              {"w": w, "c": rng.standard_normal((1, 4))})
    check(m, {"a": rng.standard_normal((6, 3)).astype(np.float32)})
    text = lergan_cc.compile(m, mode="infer").text
    assert 'host.input dst=%a key="a" shape=[6, 3] perm=[1, 0]' in text and "batch=3 batch_from=model" in text


def test_activation_on_a_vector_has_no_channel_axis() -> None:
    m = model([helper.make_node("LeakyRelu", ["x"], ["y"], name="l", alpha=0.1)], {"x": [5]}, {})
    check(m, {"x": np.linspace(-1, 1, 5, dtype=np.float32)})


def test_a_regrouped_tensor_inside_a_network_is_an_error() -> None:
    """A conv after Flatten(axis=0) of a computed tensor would need another batch mid-network."""
    rng = np.random.default_rng(2)
    m = model([helper.make_node("Relu", ["x"], ["r"], name="r"),
               helper.make_node("Flatten", ["r"], ["f"], name="f", axis=0),
               helper.make_node("MatMul", ["f", "w"], ["y"], name="mm")], {"x": [2, 3]},
              {"w": rng.standard_normal((6, 2))})
    with pytest.raises(LerganError, match=r"node 'mm' \(MatMul\): input 0 'f' was regrouped by 'f' \(Flatten "
                                          r"axis=0\)"):
        lergan_cc.compile(m, mode="infer")
    trans = model([helper.make_node("Relu", ["x"], ["r"], name="r"),
                   helper.make_node("Gemm", ["r", "w"], ["y"], name="g", transA=1)], {"x": [2, 3]},
                  {"w": rng.standard_normal((2, 4))})
    with pytest.raises(LerganError, match=r"node 'g' \(Gemm\): input 0 'r' was regrouped by its batch axis"):
        lergan_cc.compile(trans, mode="infer")


def test_regrouping_needs_a_static_batch_and_keeps_it() -> None:
    m = model([helper.make_node("Flatten", ["x"], ["y"], name="f", axis=0)], {"x": ["N", 3]}, {})
    with pytest.raises(LerganError, match=r"axis=0 regroups the batch, which needs a static batch size"):
        lergan_cc.compile(m, mode="infer")
    fixed = model([helper.make_node("Flatten", ["x"], ["y"], name="f", axis=0)], {"x": [2, 3]}, {})
    with pytest.raises(LerganError, match=r"--batch 4: <onnx> hands 'y' over regrouped, which ties it to its own batch "
                                          r"of 2"):
        lergan_cc.compile(fixed, mode="infer", batch=4)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["zfdr", "deform", "none"]))
def test_conv_transpose_output_shape_past_the_full_output(i: int, k: int, s: int, extra: int, scheme: str) -> None:
    """output_shape beyond the full transposed convolution: the positions past it get the bias only (the
    spec's negative end pads are output padding); compared with the full output, zero-extended."""
    full = s * (i - 1) + k
    total = -extra
    if total - total // 2 < 0:  # a negative begin pad: refused (docs/onnx.md)
        extra = 1
    rng = np.random.default_rng(i * 100 + k * 10 + s)
    w, b = rng.standard_normal((2, 3, k)), rng.standard_normal(3)
    m = model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], name="t", strides=[s],
                                output_shape=[full + extra])], {"x": [2, 2, i]}, {"w": w, "b": b})
    x = rng.standard_normal((2, 2, i)).astype(np.float32)
    out = lergan_cc.simulate(lergan_cc.compile(m, mode="infer", zero_free=scheme), inputs={"x": x},
                             timing=False).outputs["y"]
    plain = model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], name="t", strides=[s])], {"x": [2, 2, i]},
                  {"w": w, "b": b})
    ref = ReferenceEvaluator(plain).run(None, {"x": x})[0]
    want = np.broadcast_to(b.astype(np.float32)[None, :, None], (2, 3, full + extra)).copy()
    want[:, :, :full] = ref
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)


def test_conv_transpose_before_the_first_output_is_an_error() -> None:
    m = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="t", strides=[2], output_shape=[9])],
              {"x": [1, 1, 3]}, {"w": np.ones((1, 1, 3))})
    with pytest.raises(LerganError, match=r"output_shape=\[9\] \(needs negative begin pads \[-1\]"):
        lergan_cc.compile(m, mode="infer")


def test_a_bias_row_per_sample_runs_but_does_not_train() -> None:
    rng = np.random.default_rng(3)
    m = model([helper.make_node("Gemm", ["a", "w", "c"], ["y"], name="g")], {"a": [3, 4]},
              {"w": rng.standard_normal((4, 2)), "c": rng.standard_normal((3, 2))})
    check(m, {"a": rng.standard_normal((3, 4)).astype(np.float32)})
    d = model([helper.make_node("Gemm", ["y", "v"], ["z"], name="d"), helper.make_node("Sigmoid", ["z"], ["p"])],
              {"y": [3, 2]}, {"v": rng.standard_normal((2, 1))}, outputs=("p",))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(m, str(Path(tmp) / "g.onnx"))
        onnx.save(d, str(Path(tmp) / "d.onnx"))
        with pytest.raises(LerganError, match=r"layer 'g': a bias with a row per sample \[3, 2\] cannot be trained"):
            lergan_cc.compile(str(Path(tmp) / "g.onnx"), discriminator=str(Path(tmp) / "d.onnx"))

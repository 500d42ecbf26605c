"""ONNX's own node tests (``onnx.backend.test.case.node``) for every op the ONNX front end imports.

Every single-node test of Conv, ConvTranspose, Gemm, MatMul, Relu, LeakyRelu, Tanh, Sigmoid,
BatchNormalization, Flatten and of the DAG generators' Add, Concat, Pad, InstanceNormalization, Resize,
Upsample and Dropout is compiled (``--mode infer``, the model's own batch) and simulated, and its outputs
are compared with the expected ones the test case carries. The crossbars hold the weights, so each test's
constant inputs (weights, pads, scales, ratios: every input but the first) become initializers; the first
input is the run-time tensor the host hands over (every input, for Add and Concat). A refused test must
match one rule of :data:`REFUSALS` and get its one-line error; a training-mode Dropout (its mask drawn by
the tiles' generator, not numpy's) is checked by distribution; the per-op counts must be the ones
``docs/onnx.md`` states.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import lergan_cc
from lergan_cc.errors import LerganError

ROOT = Path(__file__).resolve().parents[1]
OPS = {"conv": "Conv", "convtranspose": "ConvTranspose", "gemm": "Gemm", "matmul": "MatMul", "relu": "Relu",
       "leakyrelu": "LeakyRelu", "tanh": "Tanh", "sigmoid": "Sigmoid", "batch_normalization": "BatchNormalization",
       "flatten": "Flatten", "add": "Add", "concat": "Concat", "pad": "Pad",
       "instance_normalization": "InstanceNormalization", "resize": "Resize", "upsample": "Upsample",
       "dropout": "Dropout"}
ALL_RUNTIME = {"Add", "Concat"}  # every input is a run-time tensor
# The intended refusals: (the tests, as a regular expression of their names; the error they get). docs/onnx.md
# says why for each.
REFUSALS = (
    (r"test_batchnorm_\w+_training_mode", r"output 'output_mean' \(the running mean\) is used"),
    (r"test_add_u?int\d+|test_(edge|reflect|wrap)_pad", r"element type U?INT\d+, expected a float tensor"),
    (r"test_add_bcast", r"broadcasting between run-time tensors is not supported"),
    (r"test_concat_(1d_axis_(0|negative_1)|2d_axis_(0|negative_2)|3d_axis_(0|negative_3))",
     r"unsupported attribute value axis=-?\d \(the batch axis\)"),
    (r"test_resize_\w*(linear|cubic|crop_and_resize)\w*", r"mode=(linear|cubic) \(only nearest upsampling"),
    (r"test_resize_downsample_\w*nearest\w*|test_resize_upsample_sizes_nearest(_axes_\d_\d|_not_larger)?",
     r"scales \[.*\] are not integers >= 1"),
    (r"test_resize_upsample_sizes_nearest_(floor_align_corners|round_prefer_ceil_asymmetric|ceil_half_pixel)",
     r"output o does not read input o // scale"),
    (r"test_upsample_nearest", r"opset 9 is older than the supported 11"),
    (r"test_\w*dropout\w*_mask\w*", r"output 'z' is used; only the first output is supported"),
)
# Training-mode dropouts that drop something: the mask is the tiles' own draw (docs/onnx.md, Dropout).
RANDOM = {"test_training_dropout_default", "test_training_dropout"}


def _cases() -> list[onnx.backend.test.case.test_case.TestCase]:  # type: ignore[name-defined]
    """The node tests of the supported ops: importing a case module runs its exporters, which append to
    ``_NodeTestCases`` (the whole collection takes 7 s, these modules 1-2 s)."""
    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in OPS:
            importlib.import_module(f"onnx.backend.test.case.node.{module}")
    ops = set(OPS.values())
    return [c for c in node_cases._NodeTestCases
            if len(c.model.graph.node) == 1 and c.model.graph.node[0].op_type in ops]


CASES = {c.name: c for c in _cases()}


def refusal(name: str) -> str | None:
    """The error a test is meant to get, if it is refused."""
    errors = [error for names, error in REFUSALS if re.fullmatch(names, name)]
    assert len(errors) <= 1, f"{name} matches {len(errors)} refusal rules"
    return errors[0] if errors else None


REFUSED = {name: error for name in CASES if (error := refusal(name)) is not None}


def as_model(case: object) -> tuple[onnx.ModelProto, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The test's model with its weight inputs as initializers, its run-time input and expected outputs."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)  # type: ignore[attr-defined]
    graph, node = model.graph, model.graph.node[0]
    inputs, outputs = case.data_sets[0]  # type: ignore[attr-defined]
    given = dict(zip([n for n in node.input if n], inputs, strict=True))
    runtime = set(given) if node.op_type in ALL_RUNTIME else {node.input[0]}
    graph.initializer.extend(numpy_helper.from_array(np.asarray(a), n) for n, a in given.items() if n not in runtime)
    kept = [vi for vi in graph.input if vi.name in runtime]
    del graph.input[:]
    graph.input.extend(kept)
    feeds = {n: given[n] for n in runtime}
    return model, feeds, dict(zip([o.name for o in graph.output], outputs, strict=True))


def op_of(name: str) -> str:
    return CASES[name].model.graph.node[0].op_type


def test_every_supported_op_has_node_tests() -> None:
    assert {op_of(n) for n in CASES} == set(OPS.values())
    assert RANDOM.issubset(CASES) and RANDOM.isdisjoint(REFUSED)
    for names, _ in REFUSALS:  # a rule that no longer matches any test is stale
        assert any(re.fullmatch(names, n) for n in CASES), names


def assert_dropped_like(out: np.ndarray, x: np.ndarray, ratio: float) -> None:
    """Every element kept and scaled by 1 / (1 - ratio), or dropped; the number dropped within 4.5 standard
    deviations of the binomial's mean (a wrong ratio or a mask of all ones or zeros fails)."""
    kept = np.isclose(out, x / (1.0 - ratio), rtol=1e-5, atol=1e-6)
    assert (kept | (out == 0)).all()
    n = x.size
    assert abs((n - kept.sum()) - n * ratio) <= 4.5 * np.sqrt(n * ratio * (1 - ratio))


@pytest.mark.parametrize("name", sorted(CASES))
def test_node(name: str) -> None:
    model, feeds, expected = as_model(CASES[name])
    if name in REFUSED:
        with pytest.raises(LerganError, match=REFUSED[name]):
            lergan_cc.compile(model, mode="infer")
        return
    program = lergan_cc.compile(model, mode="infer")
    assert " batch_from=model " in program.text.splitlines()[1]  # every node test's batch is static
    outputs = lergan_cc.simulate(program, inputs=feeds, timing=False).outputs
    assert set(outputs) == set(expected)
    if name in RANDOM:
        ratios = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        ratio = ratios.get(model.graph.node[0].input[1], np.float32(0.5))  # the ratio input, or its default
        (x,), (out,) = feeds.values(), outputs.values()
        return assert_dropped_like(out, x, float(ratio))
    for key, want in expected.items():
        assert outputs[key].shape == want.shape, key
        np.testing.assert_allclose(outputs[key], want, rtol=CASES[name].rtol, atol=1e-5)


def counts() -> dict[str, tuple[int, int, int]]:
    """(equal to the expected outputs, checked by distribution, refused) node tests per op."""
    passed = Counter(op_of(n) for n in CASES if n not in REFUSED and n not in RANDOM)
    drawn = Counter(op_of(n) for n in RANDOM)
    refused = Counter(op_of(n) for n in REFUSED)
    return {op: (passed[op], drawn[op], refused[op]) for op in OPS.values()}


def test_docs_state_the_counts() -> None:
    text = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    for op, (passed, drawn, refused) in counts().items():
        assert re.search(rf"^\| {op} \| {passed} \| {drawn} \| {refused} \|", text, flags=re.M), \
            f"docs/onnx.md: the conformance table should say | {op} | {passed} | {drawn} | {refused} |"
    total = [sum(c[i] for c in counts().values()) for i in range(3)]
    assert f"| all | {total[0]} | {total[1]} | {total[2]} |" in text

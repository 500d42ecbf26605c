"""ONNX's own node tests (``onnx.backend.test.case.node``) for the ops DESIGN §4 maps onto crossbars.

Every single-node test of Conv, ConvTranspose, Gemm, MatMul, Relu, LeakyRelu, Tanh, Sigmoid,
BatchNormalization and Flatten is compiled (``--mode infer``, the model's own batch) and simulated, and its
outputs are compared with the expected ones the test case carries. The crossbars hold the weights, so
each test's weight inputs (every input but the first) become initializers; the first input is the
run-time tensor the host hands over. A test that is refused must be listed in :data:`REFUSED` with the
one-line error it gets, and the per-op counts must be the ones ``docs/onnx.md`` states.
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
       "flatten": "Flatten"}
# The intended refusals, by test, with the error they get (docs/onnx.md says why).
REFUSED = {
    "test_batchnorm_example_training_mode": r"output 'output_mean' \(the running mean\) is used",
    "test_batchnorm_epsilon_training_mode": r"output 'output_mean' \(the running mean\) is used",
}


def _cases() -> list[onnx.backend.test.case.test_case.TestCase]:  # type: ignore[name-defined]
    """The node tests of the supported ops: importing a case module runs its exporters, which append to
    ``_NodeTestCases`` (the whole collection takes 7 s, these ten modules 1 s)."""
    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in OPS:
            importlib.import_module(f"onnx.backend.test.case.node.{module}")
    ops = set(OPS.values())
    return [c for c in node_cases._NodeTestCases
            if len(c.model.graph.node) == 1 and c.model.graph.node[0].op_type in ops]


CASES = {c.name: c for c in _cases()}


def as_model(case: object) -> tuple[onnx.ModelProto, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The test's model with its weight inputs as initializers, its run-time input and expected outputs."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)  # type: ignore[attr-defined]
    graph, node = model.graph, model.graph.node[0]
    inputs, outputs = case.data_sets[0]  # type: ignore[attr-defined]
    given = dict(zip([n for n in node.input if n], inputs, strict=True))
    runtime = node.input[0]
    graph.initializer.extend(numpy_helper.from_array(np.asarray(a), n) for n, a in given.items() if n != runtime)
    kept = [vi for vi in graph.input if vi.name == runtime]
    del graph.input[:]
    graph.input.extend(kept)
    return model, {runtime: given[runtime]}, dict(zip([o.name for o in graph.output], outputs, strict=True))


def op_of(name: str) -> str:
    return CASES[name].model.graph.node[0].op_type


def test_every_supported_op_has_node_tests() -> None:
    assert {op_of(n) for n in CASES} == set(OPS.values())
    assert set(REFUSED) <= set(CASES)


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
    for key, want in expected.items():
        assert outputs[key].shape == want.shape, key
        np.testing.assert_allclose(outputs[key], want, rtol=CASES[name].rtol, atol=1e-5)


def counts() -> dict[str, tuple[int, int]]:
    """(passed, refused) node tests per op."""
    passed = Counter(op_of(n) for n in CASES if n not in REFUSED)
    refused = Counter(op_of(n) for n in REFUSED)
    return {op: (passed[op], refused[op]) for op in OPS.values()}


def test_docs_state_the_counts() -> None:
    text = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    for op, (passed, refused) in counts().items():
        assert re.search(rf"^\| {op} \| {passed} \| {refused} \|", text, flags=re.M), \
            f"docs/onnx.md: the conformance table should say | {op} | {passed} | {refused} |"

"""The numpy training reference (tests/gan_reference.py) is itself checked: forward against
onnx.reference, backward against central finite differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from tests.gan_reference import Net, assert_central_differences, bce, conv, conv_transpose
from tests.test_sim_training import NOISE, make_gan


def _onnx(op: str, x: np.ndarray, w: np.ndarray, **attrs: object) -> np.ndarray:
    node = helper.make_node(op, ["x", "w"], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.DOUBLE, None)
                                            for n in ("x", "w")],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, {"x": x, "w": w})[0]


@settings(max_examples=30, deadline=None)
@given(rank=st.integers(1, 2), k=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 2),
       pb=st.integers(0, 2), pe=st.integers(0, 2), i=st.integers(3, 6), transposed=st.booleans())
def test_forward_matches_onnx_reference(rank: int, k: int, s: int, d: int, pb: int, pe: int, i: int,
                                        transposed: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *(i,) * rank))
    w = rng.standard_normal((3, 2, *(k,) * rank))
    attrs = dict(strides=[s] * rank, pads=[pb] * rank + [pe] * rank, dilations=[d] * rank)
    if transposed and (i - 1) * s + d * (k - 1) + 1 - pb - pe >= 1:  # an empty output is no ConvTranspose
        ours = conv_transpose(x, w, attrs["strides"], attrs["pads"], attrs["dilations"], 1, [0] * rank)[0]
        np.testing.assert_allclose(ours, _onnx("ConvTranspose", x, w, **attrs), rtol=1e-10, atol=1e-10)
    elif not transposed and (i + pb + pe - d * (k - 1) - 1) >= 0:
        w = rng.standard_normal((2, 3, *(k,) * rank))
        ours = conv(x, w, attrs["strides"], attrs["pads"], attrs["dilations"], 1)[0]
        np.testing.assert_allclose(ours, _onnx("Conv", x, w, **attrs), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("logit", [False, True])
def test_backward_matches_finite_differences(tmp_path: Path, logit: bool) -> None:
    gp, dp = make_gan(tmp_path, 2, 8, logit)
    gen, disc = Net(gp), Net(dp)
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, NOISE))

    def loss() -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
        fake, back_g = gen.forward(z)
        d, back_d = disc.forward(fake)
        value, dd = bce(d, 1, logit)
        dfake, d_grads = back_d(dd)
        return value, d_grads, back_g(dfake)[1]

    _, d_grads, g_grads = loss()
    assert_central_differences(loss, ((disc, d_grads), (gen, g_grads)), rng, per_param=3)

"""docs/zero-free.md §5: a nearest upsample by s followed by a stride-1 convolution equals a transposed
convolution of stride s with the flipped kernel summed over a box of s (``zerofree.upsample``), checked with
``onnx.reference`` on both sides; ZFDR of the folded form multiplies fewer values than the convolution of the
upsampled input, which has no inserted zeros to skip (its only zeros are padding)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.zerofree import analyze, make_geometry, zfdr
from lergan_cc.zerofree.upsample import fold_upsample_conv


def _run(nodes: list, inits: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])).run(
        None, {"x": x})[0]


@settings(max_examples=40, deadline=None)
@given(data=st.data(), rank=st.integers(1, 2), k=st.integers(1, 4), s=st.integers(1, 3), c=st.integers(1, 2),
       m=st.integers(1, 2))
def test_upsample_then_conv_is_a_transposed_conv(data: st.DataObject, rank: int, k: int, s: int, c: int,
                                                 m: int) -> None:
    pads = tuple(data.draw(st.integers(0, k - 1)) for _ in range(2 * rank))
    size = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    assume(all(d * s + pads[a] + pads[a + rank] - k + 1 >= 1 for a, d in enumerate(size)))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    w = rng.standard_normal((m, c, *(k,) * rank)).astype(np.float32)
    x = rng.standard_normal((2, c, *size)).astype(np.float32)
    up_conv = _run([helper.make_node("Resize", ["x", "", "s"], ["u"], mode="nearest",
                                     coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
                    helper.make_node("Conv", ["u", "w"], ["y"], pads=list(pads))],
                   {"s": np.array([1, 1, *(s,) * rank], np.float32), "w": w}, x)
    folded = fold_upsample_conv(w, (s,) * rank, pads, size)
    g = folded.geometry
    tconv = _run([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=list(g.stride), pads=list(g.pads))],
                 {"w": folded.weight}, x)
    np.testing.assert_allclose(tconv, up_conv, rtol=1e-5, atol=1e-5)
    assert g.kernel == (k + s - 1,) * rank
    direct = analyze(make_geometry("sconv", tuple(d * s for d in size), k, pads=pads, in_channels=c,
                                   out_channels=m))
    macs = zfdr(g).stats().macs
    assert macs <= direct.macs_zero_inserted  # never more; fewer as soon as s > 1 and k > 1
    if s > 1 and k > 1 and min(size) > 1:
        assert macs < direct.macs_zero_inserted

"""expand-training's gradient ops are the exact adjoints of the forward ops (checked with onnx.reference).

For a linear map y = A x and its claimed input gradient B, <A x, dy> == <x, B dy> for all x, dy.
"""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.frontends.gan import make_gan
from lergan_cc.ir.attrs import Interface
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import SConv, TConv, make_op
from lergan_cc.ir.shapes import conv_spatial, weight_shape
from lergan_cc.options import Options
from tests.conftest import EXAMPLES, lower, run_pass


def _net(conv: dict, in_shape: tuple[int, ...], op: str, first: str) -> Graph:
    g = Graph("n")
    g.add(make_op("input", name="x", layer="x", phase="fwd", inputs=(), shape=in_shape))
    probe = make_op(op, name="c", layer="L1", phase="fwd", inputs=("x",), shape=(), **conv)
    out = (conv["out_channels"], *conv_spatial(probe, in_shape[1:]))  # type: ignore[arg-type]
    g.add_param("w", weight_shape(probe, in_shape[0]))  # type: ignore[arg-type]
    g.add(probe.replace(shape=out, weight="w"))
    g.add(make_op("flatten", name="f", layer="L2", phase="fwd", inputs=("c",), shape=(int(np.prod(out)),)))
    g.outputs.append("f")
    return g


geometry = st.fixed_dictionaries({
    "rank": st.integers(1, 3), "k": st.integers(1, 4), "s": st.integers(1, 3), "d": st.integers(1, 2),
    "pb": st.integers(0, 2), "pe": st.integers(0, 2), "op": st.integers(0, 2), "i": st.integers(1, 5),
    "group": st.sampled_from([1, 2]),
})


def _conv_attrs(p: dict, transposed: bool) -> dict:
    n = p["rank"]
    attrs = dict(out_channels=2 * p["group"], kernel=(p["k"],) * n, stride=(p["s"],) * n,
                 pads=(p["pb"],) * n + (p["pe"],) * n, dilation=(p["d"],) * n, group=p["group"])
    if transposed:
        attrs["output_padding"] = (min(p["op"], p["s"] - 1),) * n
    return attrs


def _onnx_attrs(op) -> dict:
    a = dict(kernel_shape=list(op.kernel), strides=list(op.stride), pads=list(op.pads),
             dilations=list(op.dilation), group=op.group)
    if isinstance(op, TConv):
        a["output_padding"] = list(op.output_padding)
    return a


def _run(op, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """onnx.reference's ConvTranspose mishandles group > 1: run it per group (ONNX's own definition)."""
    if isinstance(op, TConv) and op.group > 1:
        xs, ws = np.split(x, op.group, axis=1), np.split(w, op.group, axis=0)
        one = op.replace(group=1)
        return np.concatenate([_run(one, xi, wi) for xi, wi in zip(xs, ws, strict=True)], axis=1)
    node = helper.make_node("ConvTranspose" if isinstance(op, TConv) else "Conv", ["x", "w"], ["y"],
                            **_onnx_attrs(op))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, None),
                                            helper.make_tensor_value_info("w", TensorProto.DOUBLE, None)],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, {"x": x, "w": w})[0]


def _expanded(p: dict) -> Graph:
    n, c = p["rank"], 2 * p["group"]
    d_in = (c, *(p["i"] * p["s"] + p["k"],) * n)
    gen_conv = _conv_attrs(p, transposed=True)
    gen = Graph("g")
    gen.add(make_op("input", name="z", layer="z", phase="fwd", inputs=(), shape=(c, *(p["i"],) * n)))
    # an op before the tconv, so that the tconv's input gets a gradient (the noise gets none)
    gen.add(make_op("relu", name="G0", layer="G0", phase="fwd", inputs=("z",), shape=(c, *(p["i"],) * n)))
    probe = make_op("tconv", name="G1", layer="G1", phase="fwd", inputs=("G0",), shape=(), **gen_conv)
    g_out = (c, *conv_spatial(probe, (p["i"],) * n))  # type: ignore[arg-type]
    gen.add_param("w", weight_shape(probe, c))  # type: ignore[arg-type]
    gen.add(probe.replace(shape=g_out, weight="w"))
    gen.outputs.append("G1")
    d_in = g_out
    disc = _net(_conv_attrs(p, transposed=False), d_in, "sconv", "D1")
    return run_pass("expand-training", make_gan(gen, disc), Options())


@settings(max_examples=40, deadline=None)
@given(geometry, st.integers(0, 2**31 - 1))
def test_input_gradients_are_adjoints(p: dict, seed: int) -> None:
    try:
        g = _expanded(p)
    except ValueError:
        return  # geometry gives an empty output: nothing to check
    rng = np.random.default_rng(seed)
    for fwd_name, grad_name in (("c", "c.err"), ("G1", "G1.err")):
        fwd, grad = g.op(fwd_name), g.op(grad_name)
        assert isinstance(grad, TConv if isinstance(fwd, SConv) else SConv)
        x = rng.standard_normal((2, *g.op(fwd.inputs[0]).shape)).astype(np.float64)
        dy = rng.standard_normal((2, *fwd.shape)).astype(np.float64)
        w = rng.standard_normal(g.params[fwd.weight].shape).astype(np.float64)
        y = _run(fwd, x, w)
        dx = _run(grad, dy, w)
        assert dx.shape == x.shape
        np.testing.assert_allclose(np.vdot(y, dy), np.vdot(x, dx), rtol=1e-9, atol=1e-9)


def test_onnx_is_available() -> None:
    assert onnx.__version__


def test_discogan_generator_gets_both_interfaces() -> None:
    """Paper §V "Interface": a generator with S-CONVs needs ZFDR_WS for G_wgrad and ZFDR_T for G_err too."""
    g = lower(str(EXAMPLES / "discogan_4pairs.lergan"), Options(), stop_after="expand-training")
    tag = {op.name: op.need(Interface).name for op in g.ops() if op.OP in ("sconv", "tconv", "wconv")}
    assert (tag["G2"], tag["G2.wgrad"], tag["G2.err"]) == ("none", "ZFDR_WS", "ZFDR_T")
    assert (tag["G5"], tag["G5.wgrad"], tag["G5.err"]) == ("ZFDR_T", "ZFDR_T", "none")
    assert (tag["D1"], tag["D1.wgrad"], tag["D1.err"]) == ("none", "ZFDR_WS", "ZFDR_T")
    phases = {op.phase for op in g.ops()}
    assert phases == {"G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad"}


def test_stride_one_layers_need_no_interface() -> None:
    """A stride-1 T-CONV inserts no zeros (it is a padded convolution): none in every phase, like a
    stride-1 S-CONV's weight gradient; MAGAN's 7k1s layer and ArtGAN's 4k1s/3k1s layers."""
    for model, stride_one in (("magan_mnist", ["G2"]), ("artgan_cifar10", ["G2", "G6", "D2"])):
        g = lower(str(EXAMPLES / f"{model}.lergan"), Options(), stop_after="expand-training")
        convs = [op for op in g.ops() if op.OP in ("sconv", "tconv", "wconv")]
        assert sorted({op.layer for op in convs if max(op.stride) == 1}) == sorted(stride_one)
        for op in convs:
            strided = max(op.stride) > 1
            assert (op.need(Interface).name != "none") == (strided and op.OP != "sconv"), op.name

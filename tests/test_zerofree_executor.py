"""The executor applies zfdr / deform / normal reshaped forms exactly (onnx.reference, loops, finite differences)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.zerofree import ConvGeometry, GeometryError, analyze, deform, make_geometry, zfdr
from lergan_cc.zerofree.executor import execute
from lergan_cc.zerofree.geometry import tconv_pads_from_output_shape
from lergan_cc.zerofree.normal import normal_reshape

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


def _onnx(op_type: str, x: np.ndarray, w: np.ndarray, **attrs) -> np.ndarray:
    node = helper.make_node(op_type, ["x", "w"], ["y"], **attrs)
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("x", "w", "y")]
    model = helper.make_model(helper.make_graph([node], "g", vi[:2], vi[2:]),
                              opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, {"x": x, "w": w})[0]


def onnx_reference(g: ConvGeometry, x: np.ndarray, w: np.ndarray, **extra) -> np.ndarray:
    attrs = dict(kernel_shape=list(g.kernel), strides=list(g.stride), dilations=list(g.dilation))
    attrs |= extra or {"pads": list(g.pads)}
    if g.kind == "sconv":
        return _onnx("Conv", x, w, group=g.group, **attrs)
    attrs["output_padding"] = list(g.output_padding)
    # onnx.reference's ConvTranspose mishandles group > 1: apply ONNX's definition, one group at a time
    parts = [_onnx("ConvTranspose", xs, ws, group=1, **attrs)
             for xs, ws in zip(np.split(x, g.group, axis=1), np.split(w, g.group, axis=0), strict=True)]
    return np.concatenate(parts, axis=1)


@st.composite
def geometries(draw, kind: str, op_below_stride: bool = False) -> ConvGeometry:
    """Tiny random geometries. ``op_below_stride``: output_padding < stride, the only case
    onnx.reference's col2im evaluates (ONNX allows op < max(stride, dilation))."""
    rank = draw(st.integers(1, 3))
    small = 4 if rank < 3 else 3
    size = tuple(draw(st.lists(st.integers(1, small), min_size=rank, max_size=rank)))
    kernel = tuple(draw(st.lists(st.integers(1, 4 if rank < 3 else 3), min_size=rank, max_size=rank)))
    stride = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    dil = tuple(draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank)))
    pads = tuple(draw(st.integers(0, (k - 1) * d)) for k, d in zip(kernel * 2, dil * 2, strict=True))
    op = (0,) * rank
    if kind in ("tconv", "wconv_t"):
        op = tuple(draw(st.integers(0, (s if op_below_stride else max(s, d)) - 1))
                   for s, d in zip(stride, dil, strict=True))
    group = draw(st.sampled_from([1, 2]))
    cin, cout = group * draw(st.integers(1, 2)), group * draw(st.integers(1, 2))
    try:
        return make_geometry(kind, size, kernel, stride=stride, pads=pads, output_padding=op, dilation=dil,
                             group=group, in_channels=cin, out_channels=cout)
    except GeometryError:
        assume(False)
        raise


def _data(g: ConvGeometry, seed: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, g.in_channels, *g.input_size)).astype(np.float32)
    if g.is_wgrad:
        return x, rng.standard_normal((batch, g.out_channels, *g.output_size)).astype(np.float32)
    return x, rng.standard_normal(g.weight_shape).astype(np.float32)


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(b).max(initial=0))))


def _check_all_forms(g: ConvGeometry, x: np.ndarray, operand: np.ndarray, expected: np.ndarray) -> None:
    b = x.shape[0]
    a = analyze(g)
    z = execute(zfdr(g), x, operand)
    _close(z.result, expected)
    assert z.macs == b * a.macs_useful == b * zfdr(g).macs
    d = execute(deform(g), x, operand)
    _close(d.result, expected)
    assert z.macs <= d.macs == b * deform(g).macs <= b * a.macs_zero_inserted
    n = execute(normal_reshape(g), x, operand)
    _close(n.result, expected)
    assert n.macs == b * a.macs_zero_inserted


@SETTINGS
@given(geometries("tconv", op_below_stride=True), st.integers(0, 2**31), st.integers(1, 3))
def test_tconv_forms_match_onnx(g: ConvGeometry, seed: int, batch: int) -> None:
    x, w = _data(g, seed, batch)
    _check_all_forms(g, x, w, onnx_reference(g, x, w))


@SETTINGS
@given(geometries("sconv"), st.integers(0, 2**31), st.integers(1, 3))
def test_sconv_forms_match_onnx(g: ConvGeometry, seed: int, batch: int) -> None:
    x, w = _data(g, seed, batch)
    _check_all_forms(g, x, w, onnx_reference(g, x, w))


@settings(max_examples=15, deadline=None)
@given(geometries("tconv", op_below_stride=True), st.sampled_from(["SAME_UPPER", "SAME_LOWER"]),
       st.integers(0, 2), st.integers(0, 2**31))
def test_tconv_output_shape_derived_pads(g0: ConvGeometry, auto_pad: str, shrink: int, seed: int) -> None:
    full = tuple(s * (i - 1) + op + (k - 1) * d + 1 for s, i, op, k, d in
                 zip(g0.stride, g0.input_size, g0.output_padding, g0.kernel, g0.dilation, strict=True))
    out_shape = tuple(max(1, f - shrink) for f in full)
    pads = tconv_pads_from_output_shape(g0.input_size, g0.kernel, g0.stride, out_shape, dilation=g0.dilation,
                                        output_padding=g0.output_padding, auto_pad=auto_pad)
    g = make_geometry("tconv", g0.input_size, g0.kernel, stride=g0.stride, pads=pads,
                      output_padding=g0.output_padding, dilation=g0.dilation, group=g0.group,
                      in_channels=g0.in_channels, out_channels=g0.out_channels)
    assert g.output_size == out_shape
    x, w = _data(g, seed, 2)
    expected = onnx_reference(g, x, w, auto_pad=auto_pad, output_shape=list(out_shape))
    _check_all_forms(g, x, w, expected)


def loop_wgrad(g: ConvGeometry, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dW by plain loops over the forward relation (independent of the reshaping code)."""
    f = g.forward()
    n, cg, mg = g.rank, g.in_per_group, g.out_per_group
    dw = np.zeros(g.weight_shape, dtype=np.float64)
    for c, m in itertools.product(range(g.in_channels), range(g.out_channels)):
        if c // cg != m // mg:
            continue
        for k in itertools.product(*map(range, g.kernel)):
            if g.kind == "wconv":  # dW[m, c, k] = sum_o dy[o] x[s o + d k - p]
                for o in itertools.product(*map(range, f.output_size)):
                    i = tuple(g.stride[a] * o[a] + g.dilation[a] * k[a] - g.pads[a] for a in range(n))
                    if all(0 <= i[a] < g.input_size[a] for a in range(n)):
                        dw[(m, c % cg, *k)] += float(np.dot(x[(slice(None), c, *i)], dy[(slice(None), m, *o)]))
            else:  # dW[c, m, k] = sum_{i} x[i] dy[s i + d k - p]
                for i in itertools.product(*map(range, g.input_size)):
                    o = tuple(g.stride[a] * i[a] + g.dilation[a] * k[a] - g.pads[a] for a in range(n))
                    if all(0 <= o[a] < f.output_size[a] for a in range(n)):
                        dw[(c, m % mg, *k)] += float(np.dot(x[(slice(None), c, *i)], dy[(slice(None), m, *o)]))
    return dw


@SETTINGS
@given(geometries("wconv"), st.integers(0, 2**31), st.integers(1, 3))
def test_wconv_forms_match_loops(g: ConvGeometry, seed: int, batch: int) -> None:
    x, dy = _data(g, seed, batch)
    _check_all_forms(g, x, dy, loop_wgrad(g, x, dy))


@SETTINGS
@given(geometries("wconv_t"), st.integers(0, 2**31), st.integers(1, 3))
def test_wconv_t_forms_match_loops(g: ConvGeometry, seed: int, batch: int) -> None:
    x, dy = _data(g, seed, batch)
    _check_all_forms(g, x, dy, loop_wgrad(g, x, dy))


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(["wconv", "wconv_t"]).flatmap(geometries), st.integers(0, 2**31))
def test_wgrad_finite_differences(g: ConvGeometry, seed: int) -> None:
    """dW of loss = sum(dy * conv(x, W)) from the zfdr plan equals central differences of the loss."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, g.in_channels, *g.input_size))
    dy = rng.standard_normal((2, g.out_channels, *g.output_size))
    w = rng.standard_normal(g.weight_shape)
    fwd = normal_reshape(g.forward())

    def loss(weight: np.ndarray) -> float:
        return float(np.sum(dy * execute(fwd, x, weight).result))

    grad = execute(zfdr(g), x, dy).result
    eps = 1e-3
    for idx in list(np.ndindex(*g.weight_shape))[:12]:
        e = np.zeros_like(w)
        e[idx] = eps
        fd = (loss(w + e) - loss(w - e)) / (2 * eps)
        assert abs(fd - grad[idx]) <= 1e-6 * max(1.0, abs(fd))


def test_dcgan_g2_shape_batch() -> None:
    g = make_geometry("tconv", (4, 4), 5, stride=2, pads=2, output_padding=1, in_channels=8, out_channels=4)
    x, w = _data(g, 0, 2)
    _check_all_forms(g, x, w, onnx_reference(g, x, w))


def test_one_by_one_input_and_kernel_smaller_than_stride() -> None:
    for g in (make_geometry("tconv", (1, 1), (3, 2), stride=(2, 3), in_channels=2, out_channels=3),
              make_geometry("tconv", (3, 2), 1, stride=3, output_padding=2, in_channels=2, out_channels=2)):
        x, w = _data(g, 1, 3)
        _check_all_forms(g, x, w, onnx_reference(g, x, w))

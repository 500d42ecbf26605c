"""The ONNX front end's ops for DAG generators: Add, Concat, Pad, InstanceNormalization, Resize/Upsample
(nearest, integer scales) and Dropout (DESIGN §4: CycleGAN's ResNet, pix2pix's U-Net, upsample + conv).

The handlers plug into ``onnx_frontend.HANDLERS``; they see the importer and the node through the same
small interface as the front end's own handlers. Whether a Resize/Upsample is a nearest upsample by an
integer factor is not derived from a hand-written copy of the spec's coordinate transforms: the node,
with every attribute it has, is run by ``onnx.reference`` on an index tensor and must pick input
``o // scale`` for every output ``o``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.frontends.onnx_fold import BATCHES, Const
from lergan_cc.ir.shapes import PAD_MODES

if TYPE_CHECKING:
    from lergan_cc.frontends.onnx_frontend import Importer, Node, Viewed


def _f32(value: float) -> float:
    """A float32 attribute as the shortest decimal that is the same float32 (as the front end prints them)."""
    return float(str(np.float32(value)))


def _axis(node: Node, axis: int, rank: int) -> int:
    """An ONNX axis of a (batch, ...) tensor of ``rank`` as a per-sample axis; the batch axis is an error."""
    a = axis + rank if axis < 0 else axis
    if not 1 <= a < rank:
        why = "the batch axis" if a == 0 else f"out of range for rank {rank}"
        raise node.bad_attr("axis", axis, why)
    return a - 1


# ---- Add, Concat -------------------------------------------------------------------------------------
def _add(imp: Importer, node: Node) -> None:
    """Two run-time tensors of one shape; an element-wise op, so two tensors regrouped alike stay so."""
    if isinstance(imp.value(node, 0), Const) or isinstance(imp.value(node, 1), Const):
        raise node.error("unsupported op (an Add of a run-time tensor and a constant is supported only as the "
                         "bias of a MatMul)")
    a, b = imp.runtime(node, 0), imp.runtime(node, 1)
    if _model_rank(a, imp) != _model_rank(b, imp):
        raise node.error(f"inputs of ranks {_model_rank(a, imp)} and {_model_rank(b, imp)} differ (broadcasting "
                         f"between run-time tensors is not supported)")
    if not isinstance(a, str) and not isinstance(b, str) and a.view == b.view:
        x, y, view, by = a.op, b.op, a.view, a.by
    else:
        x, y, view, by = imp.tensor(node, 0), imp.tensor(node, 1), None, ""
    if imp.shape_of(x) != imp.shape_of(y):
        raise node.error(f"inputs of per-sample shapes {list(imp.shape_of(x))} and {list(imp.shape_of(y))} "
                         f"differ (broadcasting between run-time tensors is not supported)")
    imp.env[node.proto.output[0]] = imp.viewed(imp.op("add", node, (x, y)), view, by)


def _model_rank(v: str | Viewed, imp: Importer) -> int:
    """The rank of a run-time tensor in the model (batch axis included)."""
    return len(imp.shape_of(v)) + 1 if isinstance(v, str) else len(v.view.shape)


def _concat(imp: Importer, node: Node) -> None:
    if "axis" not in node.attrs:
        raise node.error("needs its axis attribute")
    axis = _axis(node, int(node.attrs["axis"]), _model_rank(imp.runtime(node, 0), imp))  # the batch axis first
    xs = tuple(imp.tensor(node, k) for k in range(len(node.proto.input)))
    imp.op("concat", node, xs, axis=axis)


# ---- Pad ---------------------------------------------------------------------------------------------
def _pad(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    rank = len(imp.shape_of(x)) + 1
    mode = node.attrs.get("mode", "constant")
    if mode not in PAD_MODES:
        raise node.bad_attr("mode", mode)
    raw = imp.const(node, 1, "pads")
    if raw is None:
        raise node.error("needs its pads input")
    given = [int(v) for v in np.asarray(raw).reshape(-1)]
    axes_in = imp.const(node, 3, "axes")
    axes = [int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes_in).reshape(-1)] \
        if axes_in is not None else list(range(rank))
    if len(given) != 2 * len(axes) or any(not 0 <= a < rank for a in axes):
        raise node.error(f"pads {given} do not fit axes {axes} of a rank-{rank} input")
    full = [0] * 2 * rank
    for i, a in enumerate(axes):
        full[a], full[a + rank] = given[i], given[i + len(axes)]
    if full[0] or full[rank]:
        raise node.error(f"pads {given} pad the batch axis")
    if min(full) < 0:
        raise node.error(f"pads {given} are negative (cropping is not supported)")
    value = imp.const(node, 2, "constant_value")
    pads = (*full[1:rank], *full[rank + 1:])
    imp.op("pad", node, (x,), pads=pads, mode=mode,
           value=_f32(float(np.asarray(value).reshape(-1)[0])) if value is not None else 0.0)


# ---- InstanceNormalization ---------------------------------------------------------------------------
def _instancenorm(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    shape = imp.shape_of(x)
    if len(shape) < 2:
        raise node.error(f"needs (batch, channels, spatial...), got per-sample shape {list(shape)}")
    names = []
    for k, role in ((1, "scale"), (2, "bias")):
        data = imp.const(node, k, role)
        if data is None or data.shape != (shape[0],):
            got = "missing" if data is None else f"shape {list(data.shape)}"
            raise node.error(f"{role} must be a ({shape[0]},) constant, got {got}")
        names.append(imp.param(node, k, role))
    imp.op("instancenorm", node, (x,), epsilon=_f32(node.attrs.get("epsilon", 1e-5)), scale=names[0], bias=names[1])


# ---- Resize / Upsample (nearest, integer scales) ------------------------------------------------------
def _factors(imp: Importer, node: Node, shape: tuple[int, ...]) -> list[int]:
    """The output/input size ratio of every (batch, per-sample...) axis, from ``scales`` or ``sizes``."""
    rank = len(shape) + 1
    k_scales, k_sizes = (2, 3) if node.op_type == "Resize" else (1, -1)
    scales = imp.const(node, k_scales, "scales")
    sizes = imp.value(node, k_sizes) if k_sizes > 0 else None
    axes = [a + rank if a < 0 else a for a in node.ints("axes", tuple(range(rank)))]
    if scales is not None and scales.size:
        ratios = [float(v) for v in scales.reshape(-1)]
    elif isinstance(sizes, Const):
        ratios = _size_ratios(imp, node, sizes, axes, shape)
    else:
        raise node.error("needs constant scales or sizes")
    if len(ratios) != len(axes):
        raise node.error(f"{len(ratios)} scales for axes {axes}")
    full = [1.0] * rank
    for a, r in zip(axes, ratios, strict=True):
        full[a] = r
    if full[0] != 1 or full[1] != 1:
        raise node.error(f"scales {full} resize the batch or channel axis")
    if any(r < 1 or r != int(r) for r in full):
        raise node.error(f"scales {full} are not integers >= 1 (only integer upsampling is supported)")
    return [int(r) for r in full]


def _size_ratios(imp: Importer, node: Node, sizes: Const, axes: list[int], shape: tuple[int, ...]) -> list[float]:
    """sizes / input sizes (a batch entry may be the batch itself); ``keep_aspect_ratio_policy`` as the spec."""
    a, b = (np.asarray(v).astype(np.int64).reshape(-1).tolist() for v in sizes.values)
    dims = [0, *shape]
    ratios: list[float] = []
    for i, (ax, u, v) in enumerate(zip(axes, a, b, strict=True)):
        if ax == 0:
            ok = (u, v) == BATCHES or (u == v and imp.rows() is not None and u == imp.rows())
            ratios.append(1.0 if ok else 0.0)
        elif u != v:
            raise node.error(f"sizes entry {i} depends on the batch size")
        else:
            ratios.append(u / dims[ax])
    policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy == "stretch":
        return ratios
    if policy not in ("not_larger", "not_smaller"):
        raise node.bad_attr("keep_aspect_ratio_policy", policy)
    spatial = [r for ax, r in zip(axes, ratios, strict=True) if ax > 0]
    scale = (min if policy == "not_larger" else max)(spatial)
    return [r if ax == 0 else round(scale * dims[ax]) / dims[ax] for ax, r in zip(axes, ratios, strict=True)]


def _nearest_by_reference(node: Node, opset: int, spatial: tuple[int, ...], factors: list[int]) -> bool:
    """Whether ``onnx.reference`` running this node (its attributes as given) on an index tensor picks input
    ``o // factor`` for every output position ``o``."""
    attrs = {k: v for k, v in node.attrs.items() if k != "axes"}
    inputs = ["x", "", "s"] if node.op_type == "Resize" else ["x", "s"]
    test = helper.make_node(node.op_type, inputs, ["y"], **attrs)
    graph = helper.make_graph([test], "nearest", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                                                  for n in ("x", "s")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    index = np.arange(int(np.prod(spatial)), dtype=np.float32).reshape(1, 1, *spatial)
    try:
        outs = ReferenceEvaluator(model).run(None, {"x": index, "s": np.asarray([1, 1, *factors], np.float32)})
    except Exception:  # the reference raises anything from KeyError to ValueError
        return False
    got = np.asarray(outs[0] if isinstance(outs, list) else outs["y"])
    want = index
    for a, f in enumerate(factors):
        want = np.repeat(want, f, axis=2 + a)
    return got.shape == want.shape and bool(np.array_equal(got, want))


def _upsample(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    shape = imp.shape_of(x)
    mode = node.attrs.get("mode", "nearest")
    if mode != "nearest":
        raise node.bad_attr("mode", mode, "only nearest upsampling is supported")
    transform = node.attrs.get("coordinate_transformation_mode", "half_pixel")
    if transform == "tf_crop_and_resize":
        raise node.bad_attr("coordinate_transformation_mode", transform, "crops by a region of interest")
    if len(shape) < 2:
        raise node.error(f"needs (batch, channels, spatial...), got per-sample shape {list(shape)}")
    factors = _factors(imp, node, shape)[2:]
    if not _nearest_by_reference(node, imp.opset, shape[1:], factors):
        nearest = node.attrs.get("nearest_mode", "round_prefer_floor")
        raise node.error(f"unsupported attribute values coordinate_transformation_mode={transform}, "
                         f"nearest_mode={nearest} (output o does not read input o // scale)")
    imp.op("upsample", node, (x,), scales=tuple(factors))


# ---- Dropout -----------------------------------------------------------------------------------------
def _dropout(imp: Importer, node: Node) -> None:
    """Kept as an op: the identity in inference, a seeded mask in GAN training (and with training_mode=1).
    Element-wise: a regrouped tensor stays regrouped."""
    v = imp.runtime(node)
    x, view, by = (v, None, "") if isinstance(v, str) else (v.op, v.view, v.by)
    ratio = float(node.attrs.get("ratio", 0.5))
    given = imp.const(node, 1, "ratio")
    if given is not None:
        ratio = float(np.asarray(given).reshape(-1)[0])
    training = imp.const(node, 2, "training_mode")
    if not 0.0 <= ratio < 1.0:
        raise node.error(f"ratio {ratio:g} is not in [0, 1)")
    imp.unused_outputs(node, 1)
    seed = int(node.attrs.get("seed", zlib.crc32(node.name.encode())))
    out = imp.op("dropout", node, (x,), ratio=_f32(ratio), seed=seed,
                 training_mode=bool(np.asarray(training).reshape(-1)[0]) if training is not None else False)
    imp.env[node.proto.output[0]] = imp.viewed(out, view, by)


Handler = Callable[["Importer", "Node"], None]
DAG_HANDLERS: dict[str, Handler] = {
    "Add": _add, "Concat": _concat, "Pad": _pad, "InstanceNormalization": _instancenorm, "Resize": _upsample,
    "Upsample": _upsample, "Dropout": _dropout,
}
# Resize's cubic_coeff_a, exclude_outside, extrapolation_value and antialias do not change a nearest
# upsample; they are accepted because the check by onnx.reference runs the node with them.
DAG_ATTRIBUTES: dict[str, frozenset[str]] = {
    "Add": frozenset(), "Concat": frozenset({"axis"}), "Pad": frozenset({"mode"}),
    "InstanceNormalization": frozenset({"epsilon"}),
    "Resize": frozenset({"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                         "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy"}),
    "Upsample": frozenset({"mode"}), "Dropout": frozenset({"ratio", "seed"}),
}

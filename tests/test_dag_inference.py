"""DAG generators in inference: the simulator equals ``onnx.reference`` to 1e-4 relative.

The PyTorch-exported CycleGAN ResNet generator, pix2pix U-Net and upsample + conv generator (every
exporter, every ``--zero-free`` scheme) and the examples/onnx models; hypothesis-drawn ONNX models
chaining residual blocks (Pad of every mode + Conv + InstanceNormalization + Add), U-Net skips (Concat
along any axis), Pads, nearest Resize/Upsample, Dropout and LeakyRelu. A Resize with any coordinate
transform and rounding is accepted exactly when ``onnx.reference`` reads ``x[o // scale]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lergan_cc.errors import LerganError
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.options import Options
from lergan_cc.sim.driver import SimOptions, simulate
from tests.conftest import compiled

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures" / "torch").glob("*.onnx")
                  if p.stem.split("_g_")[0] in ("cyclegan", "unet", "resize"))
EXAMPLES = [ROOT / "examples" / "onnx" / f"{m}.onnx" for m in ("cyclegan_g", "unet_g", "resize_g", "patch_d")]
TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
              "half_pixel_symmetric")
ROUNDINGS = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(out - ref).max() / max(float(np.abs(ref).max()), 1e-30))


def run(path: Path, x: np.ndarray, zero_free: str = "zfdr", target: str = "lergan-3d") -> np.ndarray:
    model = onnx.load(str(path))
    e = compiled(path, Options(zero_free=zero_free, target=target, batch=x.shape[0]))
    out = simulate(parse_fsm(e.text, "m.fsm"), "m.fsm", e.tensors, SimOptions(inputs={model.graph.input[0].name: x}))
    return out.outputs[model.graph.output[0].name]


def reference(path: Path, x: np.ndarray) -> np.ndarray:
    model = onnx.load(str(path))
    return ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0]


def test_fixtures_are_there() -> None:
    assert {p.stem for p in FIXTURES} == {f"{m}_g_{e}" for m in ("cyclegan", "unet", "resize")
                                          for e in ("ts", "dynamo", "dynamo_noopt")}


@pytest.mark.parametrize("zero_free", ["zfdr", "deform", "none"])
@pytest.mark.parametrize("path", FIXTURES + EXAMPLES, ids=[p.stem for p in FIXTURES + EXAMPLES])
def test_generators_match_onnx_reference(path: Path, zero_free: str) -> None:
    model = onnx.load(str(path))
    shape = [2, *(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:])]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    assert relative_error(run(path, x, zero_free), reference(path, x)) < 1e-4


# ---- hypothesis-drawn DAG models ---------------------------------------------------------------------------
class Builder:
    def __init__(self, seed: int, channels: int, size: list[int]) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.shape = [channels, *size]  # per sample, tracked as blocks are added

    def init(self, data: np.ndarray) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(data), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        name = f"n{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x: str, out: int, k: int, pad: int) -> str:
        w = self.init(self.rng.standard_normal((out, self.shape[0], *[k] * (len(self.shape) - 1))).astype(np.float32))
        b = self.init(self.rng.standard_normal(out).astype(np.float32))
        y = self.node("Conv", [x, w, b], pads=[pad] * 2 * (len(self.shape) - 1))
        self.shape = [out, *(d + 2 * pad - k + 1 for d in self.shape[1:])]
        return y

    def model(self, x_shape: list[int], out: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "dag", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                                  [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def _residual(draw: st.DrawFn, b: Builder, x: str) -> str:
    """x + InstanceNorm(Conv(Pad(x))) with a 'same' conv: CycleGAN's block."""
    mode = draw(st.sampled_from(["reflect", "edge", "constant", "wrap"]))
    k = draw(st.sampled_from([3, 5, 1]))
    p = (k - 1) // 2
    rank = len(b.shape)
    if p and mode != "constant" and min(b.shape[1:]) <= p:
        mode = "constant"
    pads = b.init(np.array([0, 0, *[p] * (rank - 1), 0, 0, *[p] * (rank - 1)], np.int64))
    extra = [b.init(np.array(draw(st.floats(-1, 1, width=32)), np.float32))] if mode == "constant" else []
    y = b.node("Pad", [x, pads, *extra], mode=mode)
    b.shape = [b.shape[0], *(d + 2 * p for d in b.shape[1:])]
    y = b.conv(y, b.shape[0], k, 0)
    c = b.shape[0]
    y = b.node("InstanceNormalization", [y, b.init(1 + 0.1 * b.rng.standard_normal(c).astype(np.float32)),
                                         b.init(0.1 * b.rng.standard_normal(c).astype(np.float32))], epsilon=1e-5)
    return b.node("Add", [x, y] if draw(st.booleans()) else [y, x])


def _skip(draw: st.DrawFn, b: Builder, x: str) -> str:
    """Concat([x, LeakyRelu(Conv(x))]) along a drawn axis (channels for a U-Net skip)."""
    rank = len(b.shape)
    axis = draw(st.integers(1, rank))
    before = list(b.shape)
    out = b.shape[0] if axis != 1 else draw(st.integers(1, 3))
    y = b.node("LeakyRelu", [b.conv(x, out, 3, 1)], alpha=draw(st.sampled_from([0.01, 0.2])))
    ins = [x, y] if draw(st.booleans()) else [y, x]
    b.shape = [d + (b.shape[i] if i == axis - 1 else 0) for i, d in enumerate(before)]
    return b.node("Concat", ins, axis=draw(st.sampled_from([axis, axis - rank - 1])))


def _upsample(draw: st.DrawFn, b: Builder, x: str) -> str:
    spatial = len(b.shape) - 1
    scales = [draw(st.integers(1, 3)) for _ in range(spatial)]
    full = np.array([1, 1, *scales], np.float32)
    b.shape = [b.shape[0], *(d * s for d, s in zip(b.shape[1:], scales, strict=True))]
    if draw(st.booleans()):
        return b.node("Upsample", [x, b.init(full)], mode="nearest")
    return b.node("Resize", [x, "", b.init(full)], mode="nearest", coordinate_transformation_mode="asymmetric",
                  nearest_mode="floor")


def _pad(draw: st.DrawFn, b: Builder, x: str) -> str:
    """A Pad on its own: asymmetric, on any per-sample axis (the channels too), every mode."""
    mode = draw(st.sampled_from(["reflect", "edge", "constant", "wrap"]))
    rank = len(b.shape)
    pads = [0, *[draw(st.integers(0, 2)) for _ in range(rank)], 0, *[draw(st.integers(0, 2)) for _ in range(rank)]]
    b.shape = [d + pads[1 + a] + pads[2 + rank + a] for a, d in enumerate(b.shape)]
    return b.node("Pad", [x, b.init(np.array(pads, np.int64))], mode=mode)


def _dropout(draw: st.DrawFn, b: Builder, x: str) -> str:
    return b.node("Dropout", [x, b.init(np.array(draw(st.sampled_from([0.0, 0.5])), np.float32))])


@st.composite
def dag_models(draw: st.DrawFn) -> tuple[onnx.ModelProto, np.ndarray]:
    rank = draw(st.integers(1, 3))
    size = [draw(st.integers(2, 5 if rank < 3 else 3)) for _ in range(rank)]
    channels = draw(st.integers(1, 3))
    b = Builder(draw(st.integers(0, 2**16)), channels, size)
    x = "x"
    for block in draw(st.lists(st.sampled_from([_residual, _skip, _upsample, _pad, _dropout]), min_size=1, max_size=3)):
        x = block(draw, b, x)
    return b.model(["N", channels, *size], x), b.rng.standard_normal((2, channels, *size)).astype(np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_models())
def test_random_dag_models_match_onnx_reference(tmp_path_factory: pytest.TempPathFactory,
                                               case: tuple[onnx.ModelProto, np.ndarray]) -> None:
    model, x = case
    path = tmp_path_factory.mktemp("dag") / "m.onnx"
    onnx.save(model, path)
    ref = reference(path, x)
    for zero_free, target in (("zfdr", "lergan-3d"), ("none", "htree-2d")):
        assert relative_error(run(path, x, zero_free, target), ref) < 1e-4, zero_free


# ---- Resize: accepted exactly when onnx.reference reads input o // scale ------------------------------------
def _resize(tmp: Path, transform: str, rounding: str, scales: list[int], size: list[int]) -> Path:
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="up", mode="nearest",
                            coordinate_transformation_mode=transform, nearest_mode=rounding)
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, *size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([1, 1, *scales], np.float32), "s")])
    path = tmp / "r.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), path)
    return path


@settings(max_examples=40, deadline=None)
@given(transform=st.sampled_from(TRANSFORMS), rounding=st.sampled_from(ROUNDINGS),
       scales=st.lists(st.integers(1, 4), min_size=2, max_size=2), size=st.lists(st.integers(1, 4), min_size=2,
                                                                                 max_size=2))
def test_resize_is_accepted_exactly_when_it_is_nearest_o_div_s(tmp_path_factory: pytest.TempPathFactory,
                                                                transform: str, rounding: str, scales: list[int],
                                                                size: list[int]) -> None:
    path = _resize(tmp_path_factory.mktemp("r"), transform, rounding, scales, size)
    x = np.random.default_rng(0).standard_normal((2, 2, *size)).astype(np.float32)
    try:
        ref = reference(path, x)
    except ValueError:  # a transform onnx.reference does not implement (tf_half_pixel_for_nn at opset 19)
        ref = None
    nearest = np.repeat(np.repeat(x, scales[0], axis=2), scales[1], axis=3)
    try:
        out = run(path, x)
    except LerganError as e:
        assert "does not read input o // scale" in str(e)
        assert ref is None or not np.array_equal(ref, nearest)
        return
    assert ref is not None and np.array_equal(ref, nearest) and np.array_equal(out, ref)


# ---- one-line errors --------------------------------------------------------------------------------------
def _one(tmp: Path, node: onnx.NodeProto, x_shape: list[object], inits: dict[str, np.ndarray] | None = None,
         extra_inputs: dict[str, list[object]] | None = None) -> str:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (extra_inputs or {}).items()]
    graph = helper.make_graph([node], "e", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    path = tmp / "e.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), path)
    with pytest.raises(LerganError) as e:
        compiled(path, Options(batch=2))
    assert "\n" not in str(e.value)
    return str(e.value)


ERRORS: list[tuple[str, tuple, str]] = [
    ("add-broadcast", (helper.make_node("Add", ["x", "z"], ["y"], name="a"), ["N", 2, 4], None, {"z": ["N", 2, 1]}),
     "node 'a' (Add): inputs of per-sample shapes [2, 4] and [2, 1] differ"),
    ("concat-batch", (helper.make_node("Concat", ["x", "x"], ["y"], name="c", axis=0), ["N", 2, 4]),
     "node 'c' (Concat): unsupported attribute value axis=0 (the batch axis)"),
    ("concat-shapes", (helper.make_node("Concat", ["x", "z"], ["y"], name="c", axis=1), ["N", 2, 4], None,
                       {"z": ["N", 2, 5]}), "node 'c' (Concat): cannot concatenate [2, 4] and [2, 5] along axis 0"),
    ("pad-negative", (helper.make_node("Pad", ["x", "p"], ["y"], name="p"), ["N", 2, 4],
                      {"p": np.array([0, 0, -1, 0, 0, 1], np.int64)}), "are negative (cropping is not supported)"),
    ("pad-batch", (helper.make_node("Pad", ["x", "p"], ["y"], name="p"), ["N", 2, 4],
                   {"p": np.array([1, 0, 0, 0, 0, 0], np.int64)}), "node 'p' (Pad): pads [1, 0, 0, 0, 0, 0] pad the "
                                                                      "batch axis"),
    ("resize-linear", (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="linear"), ["N", 2, 4],
                       {"s": np.array([1, 1, 2], np.float32)}),
     "node 'r' (Resize): unsupported attribute value mode=linear (only nearest upsampling is supported)"),
    ("resize-fraction", (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="nearest"), ["N", 2, 4],
                         {"s": np.array([1, 1, 1.5], np.float32)}), "are not integers >= 1"),
    ("resize-down", (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="nearest"), ["N", 2, 4],
                     {"s": np.array([1, 1, 0.5], np.float32)}), "are not integers >= 1"),
    ("resize-channels", (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="nearest"), ["N", 2, 4],
                         {"s": np.array([1, 2, 2], np.float32)}), "resize the batch or channel axis"),
    ("resize-crop", (helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="nearest",
                                      coordinate_transformation_mode="tf_crop_and_resize"), ["N", 2, 4],
                     {"s": np.array([1, 1, 2], np.float32)}), "coordinate_transformation_mode=tf_crop_and_resize"),
    ("instancenorm-scale", (helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="i"), ["N", 2, 4],
                            {"s": np.ones(3, np.float32), "b": np.zeros(2, np.float32)}),
     "node 'i' (InstanceNormalization): scale must be a (2,) constant, got shape [3]"),
    ("pad-mode", (helper.make_node("Pad", ["x", "p"], ["y"], name="p", mode="mirror"), ["N", 2, 4],
                  {"p": np.array([0, 0, 1, 0, 0, 1], np.int64)}), "unsupported attribute value mode=mirror"),
]


@pytest.mark.parametrize(("case", "args", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_front_end_errors_are_one_line(tmp_path: Path, case: str, args: tuple, message: str) -> None:
    assert message in _one(tmp_path, *args)


def test_resize_from_sizes_and_upsample(tmp_path: Path) -> None:
    """A Resize given its output sizes (with keep_aspect_ratio_policy) and the deprecated Upsample."""
    x = np.random.default_rng(3).standard_normal((2, 2, 3, 4)).astype(np.float32)
    for policy, sizes in (("stretch", [2, 2, 6, 12]), ("not_larger", [2, 2, 6, 12]), ("not_smaller", [2, 2, 6, 8])):
        node = helper.make_node("Resize", ["x", "", "", "sz"], ["y"], name="r", mode="nearest",
                                coordinate_transformation_mode="asymmetric", nearest_mode="floor",
                                keep_aspect_ratio_policy=policy, axes=[2, 3] if policy != "stretch" else None)
        graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 3, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(np.array(sizes if policy == "stretch" else sizes[2:],
                                                                    np.int64), "sz")])
        path = tmp_path / f"{policy}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), path)
        assert np.array_equal(run(path, x), reference(path, x)), policy


def test_training_mode_dropout_in_inference_draws_the_documented_mask(tmp_path: Path) -> None:
    """A Dropout exported with training_mode=1 drops in inference too, with docs/onnx.md's seeded mask."""
    from lergan_cc.sim.driver import SimOptions as Sim
    from tests.gan_reference import dropout_mask

    node = helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="d", seed=9)
    graph = helper.make_graph([node], "d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(0.3, np.float32), "r"),
                               numpy_helper.from_array(np.array(True), "t")])
    path = tmp_path / "d.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = np.random.default_rng(2).standard_normal((4, 3, 4)).astype(np.float32)
    e = compiled(path, Options(batch=4))
    for seed in (0, 1):
        out = simulate(parse_fsm(e.text, "d.fsm"), "d.fsm", e.tensors, Sim(inputs={"x": x}, seed=seed)).outputs["y"]
        np.testing.assert_allclose(out, x * dropout_mask(x.shape, 0.3, seed, 0, 9), rtol=1e-6)


def test_pad_with_axes_and_a_constant_value(tmp_path: Path) -> None:
    """Opset 18's axes input (negative axes too) pads only the listed axes."""
    x = np.random.default_rng(4).standard_normal((2, 2, 3, 4)).astype(np.float32)
    for mode, axes in (("constant", [-1]), ("reflect", [2, 3]), ("edge", [1, 3])):
        inits = {"p": np.array([1] * len(axes) + [2] * len(axes), np.int64), "v": np.array(1.5, np.float32),
                 "a": np.array(axes, np.int64)}
        node = helper.make_node("Pad", ["x", "p", "v", "a"], ["y"], name="p", mode=mode)
        graph = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(v, k) for k, v in inits.items()])
        path = tmp_path / f"{mode}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
        assert np.array_equal(run(path, x), reference(path, x)), mode


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 6), ops=st.lists(st.sampled_from(["Add", "Dropout", "Relu"]), min_size=1, max_size=4))
def test_element_wise_dag_ops_keep_a_regrouped_tensor(rows: int, ops: list[str]) -> None:
    """1-D inputs have no channel axis (the front end regroups them); Add of two tensors regrouped alike and an
    inference Dropout are element-wise, so they read them as they are, as Relu does: onnx.reference agrees."""
    import lergan_cc

    nodes, value = [], "x"
    for i, kind in enumerate(ops):
        inputs = [value, "y"] if kind == "Add" else [value]
        nodes.append(helper.make_node(kind, inputs, [f"v{i}"], name=f"n{i}"))
        value = f"v{i}"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [rows]) for n in "xy"],
                              [helper.make_tensor_value_info(value, TensorProto.FLOAT, [rows])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rng = np.random.default_rng(rows)
    feeds = {n: rng.standard_normal(rows).astype(np.float32) for n in "xy"}
    program = lergan_cc.compile(model, mode="infer")
    out = lergan_cc.simulate(program, inputs=feeds, timing=False).outputs[value]
    np.testing.assert_allclose(out, ReferenceEvaluator(model).run(None, feeds)[0], rtol=1e-5, atol=1e-6)

"""The ONNX front end: an ``.onnx`` model (opset 11+) -> verified graph IR (DESIGN §4).

Nodes are visited in the file's (topological) order. Each value is either a run-time
tensor, produced by an IR op, or a compile-time constant (initializers, Constant nodes and
every node whose inputs are all constant, folded by ``onnx_fold``). Nodes that read a
run-time tensor's values go through ``HANDLERS``, a table from op type to the function
that emits the IR op; anything else is an unsupported op. Shapes in the IR are per
sample: the batch dimension of the graph inputs is dropped and must stay first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from lergan_cc.errors import LerganError
from lergan_cc.frontends.matmul_plan import plan_matmul
from lergan_cc.frontends.onnx_dag import DAG_ATTRIBUTES, DAG_HANDLERS
from lergan_cc.frontends.onnx_export import without_weights
from lergan_cc.frontends.onnx_fold import BATCHES, Const, FoldError, Runtime, fold, foldable
from lergan_cc.ir.attrs import OutputNames, SourceModel, View
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op, Shape, make_op
from lergan_cc.ir.shapes import ShapeError, infer_shape
from lergan_cc.ir.verifier import verify

MIN_OPSET = 11
FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def load_onnx(path: str) -> Graph:
    """Read, check and translate one ONNX model into a single-network graph (phase ``fwd``)."""
    return import_model(_read(path), path)


def import_model(model: onnx.ModelProto, path: str = "<onnx>") -> Graph:
    """Translate an in-memory ONNX model (``path`` names it in diagnostics)."""
    _check_model(model, path)
    g = Importer(path, model).run()
    verify(g)
    return g


def _read(path: str) -> onnx.ModelProto:
    if not Path(path).is_file():
        raise LerganError(f"{path}: no such file")
    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, OSError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LerganError(f"{path}: not a valid ONNX model ({first})") from None
    if model.HasField("graph"):
        _load_external(path, model)
    return model


def _check_model(model: onnx.ModelProto, path: str) -> None:
    # Not onnx.checker: it rejects harmless omissions (an output without a shape) that
    # exporters produce; the handlers check what the IR needs. Protobuf decodes some
    # non-ONNX bytes without complaint, so require the fields every model has.
    if model.ir_version < 3 or not model.HasField("graph") or not model.graph.node:
        raise LerganError(f"{path}: not a valid ONNX model (no ir_version or no graph)")
    if not model.graph.output:
        raise LerganError(f"{path}: the graph has no outputs")
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise LerganError(f"{path}: initializer '{external[0]}' has its data in another file: give the model's "
                          "path, not the loaded model")


def _load_external(path: str, model: onnx.ModelProto) -> None:
    """Initializers stored beside the model: each file must exist inside the model's folder."""
    from onnx import external_data_helper as ext

    folder = Path(path).resolve().parent
    tensors = [t for t in ext._get_all_tensors(model) if ext.uses_external_data(t)]
    for t in tensors:
        info = ext.ExternalDataInfo(t)
        where = Path(info.location)
        target = (folder / where).resolve()
        if where.is_absolute() or folder not in target.parents:
            raise LerganError(f"{path}: initializer '{t.name}': external data '{info.location}' is outside the "
                              "model's folder")
        if not target.is_file():
            raise LerganError(f"{path}: initializer '{t.name}': external data file '{info.location}' is missing")
        try:
            declared = math.prod(t.dims) * max(1, helper.tensor_dtype_to_np_dtype(t.data_type).itemsize)
        except (KeyError, ValueError, TypeError):
            raise LerganError(f"{path}: initializer '{t.name}' has an unknown element type") from None
        if declared > target.stat().st_size - (info.offset or 0) or (info.length and info.length > declared):
            raise LerganError(f"{path}: initializer '{t.name}': external data '{info.location}' is shorter than "
                              f"its {list(t.dims)} values")
    if tensors:
        try:
            ext.load_external_data_for_model(model, str(folder))
        except (OSError, ValueError, RuntimeError, onnx.checker.ValidationError) as e:
            raise LerganError(f"{path}: cannot read external data ({' '.join(str(e).split())[:120]})") from None


class Node:
    """An ONNX node with its resolved name, attributes and the error prefix that names it."""

    def __init__(self, proto: onnx.NodeProto, index: int, path: str) -> None:
        self.proto = proto
        self.index = index
        self.op_type = proto.op_type
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.attrs: dict[str, Any] = {a.name: _attr(a) for a in proto.attribute}
        self.where = f"{path}: node '{self.name}' ({proto.op_type})"

    def error(self, message: str) -> LerganError:
        return LerganError(f"{self.where}: {message}")

    def bad_attr(self, name: str, value: Any, why: str = "") -> LerganError:
        return self.error(f"unsupported attribute value {name}={_show(value)}" + (f" ({why})" if why else ""))

    def ints(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(int(v) for v in self.attrs.get(name, default))


def _attr(a: onnx.AttributeProto) -> Any:
    v = helper.get_attribute_value(a)
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _f32(value: float) -> float:
    """ONNX float attributes are float32: keep the shortest decimal that is the same float32
    (0.2, not 0.20000000298023224), so the IR prints what the model's author wrote."""
    return float(str(np.float32(value)))


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Viewed:
    """A run-time tensor the model lays out otherwise than the IR's (batch, per-sample...): the IR op that
    holds it and the view from the model's tensor to the op's; ``by`` names the node that regrouped it."""

    op: str
    view: View
    by: str


Value = Const | str | Viewed  # a constant, an IR op's run-time tensor in the IR's layout, or a regrouped one
Handler = Callable[["Importer", Node], None]


@dataclass
class Importer:
    """The state of one translation: values by ONNX name, the graph being built, the layouts it chose."""

    path: str
    model: onnx.ModelProto
    graph: Graph = field(init=False)
    env: dict[str, Value] = field(default_factory=dict)
    consumers: dict[str, list[int]] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)
    opset: int = 0
    input_dims: dict[str, tuple[int | None, ...]] = field(default_factory=dict)  # input op -> the model's dims
    input_views: dict[str, View] = field(default_factory=dict)  # input ops not laid out as (batch, ...)
    param_views: dict[str, View] = field(default_factory=dict)  # params not in the model's own layout

    def __post_init__(self) -> None:
        self.graph = Graph(model=Path(self.path).stem)
        self.opset = _opset(self.path, self.model)

    def run(self) -> Graph:
        g = self.model.graph
        for init in g.initializer:
            self.env[init.name] = Const.static(_initializer(self.path, init))
        for vi in g.input:
            if vi.name not in self.env:
                self._add_input(vi)
        for i, proto in enumerate(g.node):
            for name in proto.input:
                self.consumers.setdefault(name, []).append(i)
        for i, proto in enumerate(g.node):
            if i not in self.skip:
                self._visit(Node(proto, i, self.path))
        outputs = [self._output(vi.name) for vi in g.output]
        self.graph.outputs = [op for op, _ in outputs]
        # the model's own output names key the inference npz (DESIGN §8), not the producing nodes' names
        self.graph.attach(OutputNames(tuple(vi.name for vi in g.output)))
        output_views = {vi.name: view for vi, (_, view) in zip(g.output, outputs, strict=True) if view is not None}
        source = SourceModel(self.rows(), dict(self.input_views), output_views, dict(self.param_views))
        if source.to_value():
            self.graph.attach(source)
        self.graph.sources["net"] = without_weights(self.model, set(self.graph.params))
        return self.graph

    # -- values -------------------------------------------------------------------

    def _add_input(self, vi: onnx.ValueInfoProto) -> None:
        """A run-time input: (batch, per-sample...) with static per-sample dimensions; a 1-D (or 0-D) input
        has no per-sample axis and holds one value per sample (a (batch, 1) tensor in the IR)."""
        dims = vi.type.tensor_type.shape.dim
        where = f"{self.path}: input '{vi.name}'"
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            raise LerganError(f"{where}: needs a tensor type with a shape")
        elem = vi.type.tensor_type.elem_type
        if elem not in FLOAT_TYPES:
            name = onnx.TensorProto.DataType.Name(elem) if elem in onnx.TensorProto.DataType.values() else str(elem)
            raise LerganError(f"{where}: element type {name}, expected a float "
                              "tensor (the accelerator computes on numbers, not indices)")
        if any(not d.HasField("dim_value") or d.dim_value < 1 for d in dims[1:]):
            raise LerganError(f"{where}: per-sample dimensions must be static, got {_dims(dims)}")
        model_dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims)
        if len(dims) < 2 and None in model_dims:
            raise LerganError(f"{where}: a tensor without a channel axis needs a static size, got {_dims(dims)}")
        self.input_dims[vi.name] = model_dims
        static = tuple(d or 0 for d in model_dims)
        shape = static[1:] if len(dims) >= 2 else (1,)
        self.emit(make_op("input", name=vi.name, layer=vi.name, phase="fwd", inputs=(), shape=shape), None)
        if len(dims) < 2:  # (n,) as n samples of one value; () as one sample
            view = View(static)
            self.input_views[vi.name] = view
            self.env[vi.name] = Viewed(vi.name, view, f"input '{vi.name}' (it has no channel axis)")

    def rows(self) -> int | None:
        """The batch the IR runs: every input's (a regrouped input's from its view), or None if symbolic."""
        found: dict[int, str] = {}
        for name, dims in self.input_dims.items():
            view = self.input_views.get(name)
            n = view.size // math.prod(self.shape_of(name)) if view is not None else dims[0]
            if n is not None:
                found.setdefault(n, name)
        if len(found) > 1:
            (a, x), (b, y) = list(found.items())[:2]
            raise LerganError(f"{self.path}: inputs '{x}' and '{y}' give different batch sizes {a} and {b}")
        return next(iter(found), None)

    def _output(self, name: str) -> tuple[str, View | None]:
        value = self.env.get(name)
        if not isinstance(value, (str, Viewed)):
            raise LerganError(f"{self.path}: output '{name}' is a constant, not computed from an input")
        return (value.op, value.view) if isinstance(value, Viewed) else (value, None)

    def value(self, node: Node, k: int) -> Value | None:
        names = node.proto.input
        if k >= len(names) or not names[k]:
            return None
        if names[k] not in self.env:
            raise node.error(f"input '{names[k]}' is not defined before the node")
        return self.env[names[k]]

    def runtime(self, node: Node, k: int = 0) -> Viewed | str:
        """Input ``k`` as a run-time tensor, in whatever layout it has (for element-wise ops)."""
        v = self.value(node, k)
        if not isinstance(v, (str, Viewed)):
            raise node.error(f"input {k} must be a run-time tensor, got a constant")
        return v

    def tensor(self, node: Node, k: int = 0) -> str:
        """The IR op feeding input ``k``, which must be a run-time tensor in the IR's (batch, ...) layout
        (a regrouped graph input is laid out so)."""
        v = self.runtime(node, k)
        if isinstance(v, str):
            return v
        shape = v.view.shape
        if len(shape) < 2 or v.view.perm:
            raise self.stuck(node, k, v)
        return self.layout(node, k, (), shape[0], shape[1:])

    def layout(self, node: Node, k: int, perm: tuple[int, ...], rows: int, per_sample: Shape) -> str:
        """The IR op holding input ``k`` as ``model.transpose(perm).reshape(rows, *per_sample)``: the op that
        already does, or a graph input laid out so (:meth:`materialize`)."""
        v = self.runtime(node, k)
        held = (v, ()) if isinstance(v, str) else (v.op, v.view.perm)
        if held[1] == perm and self.shape_of(held[0]) == per_sample:  # then the sizes give the same rows
            return held[0]
        return self.materialize(node, k, perm, rows, per_sample)

    def model_shape(self, node: Node, k: int, why: str) -> tuple[int, ...]:
        """The model's shape of run-time input ``k``, which ``why`` regroups: the batch must be static."""
        v = self.runtime(node, k)
        if isinstance(v, Viewed):
            return v.view.shape
        rows = self.rows()
        if rows is None:
            raise node.error(f"{why} regroups the batch, which needs a static batch size (the model's is symbolic)")
        return (rows, *self.shape_of(v))

    def materialize(self, node: Node, k: int, perm: tuple[int, ...], rows: int, per_sample: Shape) -> str:
        """Lay out the graph input that input ``k`` reads as ``model.transpose(perm).reshape(rows, *per_sample)``.

        Only a graph input no op has read yet can be laid out anew (the host writes it into the banks in the
        order the program wants); ``perm`` needs input ``k`` to be that input itself, not a reshape of it."""
        v = self.runtime(node, k)
        op = v.op if isinstance(v, Viewed) else v
        dims = self.input_dims.get(op)
        same = v == op or (isinstance(v, Viewed) and v.view.shape == dims)
        if dims is None or None in dims or (perm and not same) or (isinstance(v, Viewed) and v.view.perm) \
                or not self._unread(op, node) or (op in self.input_views and self.input_views[op].perm):
            raise self.stuck(node, k, v)
        model = tuple(d or 0 for d in dims)
        if not per_sample or math.prod(model) != rows * math.prod(per_sample):
            raise node.error(f"cannot lay out input '{op}' {list(model)} as {rows} samples of {list(per_sample)}")
        self.graph.replace(self.graph.op(op).replace(shape=tuple(per_sample)))
        view = View(model, perm)
        if perm or model != (rows, *per_sample):
            self.input_views[op] = view
        else:
            self.input_views.pop(op, None)
        self.rows()  # the other inputs must agree
        self.env[node.proto.input[k]] = op
        return op

    def _unread(self, op: str, node: Node) -> bool:
        """No IR op reads the input ``op`` and no later node reads a value that is it."""
        if self.graph.nx.out_degree(op) > 0:
            return False
        outputs = {vi.name for vi in self.model.graph.output}
        names = [n for n, v in self.env.items() if v == op or (isinstance(v, Viewed) and v.op == op)]
        return all(n not in outputs and all(i <= node.index for i in self.consumers.get(n, [])) for n in names)

    def stuck(self, node: Node, k: int, v: Viewed | str) -> LerganError:
        by = v.by if isinstance(v, Viewed) else "its batch axis"
        return node.error(f"input {k} '{node.proto.input[k]}' was regrouped by {by}; only element-wise ops and "
                          f"graph outputs may read it unless it is a graph input read by this node alone")

    def viewed(self, op: str, view: View | None, by: str) -> Value:
        """``op``'s tensor seen through ``view`` (just ``op`` when the view is the IR's own layout)."""
        if view is None:
            return op
        rows = self.rows()
        if not view.perm and rows is not None and view.shape == (rows, *self.shape_of(op)):
            return op
        return Viewed(op, view, by)

    def const(self, node: Node, k: int, role: str) -> np.ndarray | None:
        """Input ``k`` as a static constant (a weight, a bias, a shape), or None when absent."""
        v = self.value(node, k)
        if v is None:
            return None
        if not isinstance(v, Const):
            raise node.error(f"{role} '{node.proto.input[k]}' must be an initializer or a constant")
        if not v.is_static:
            raise node.error(f"{role} '{node.proto.input[k]}' depends on the batch size")
        return v.value

    def shape_of(self, op_name: str) -> Shape:
        return self.graph.op(op_name).shape

    def param(self, node: Node, k: int, role: str, data: np.ndarray | None = None,
              view: View | None = None) -> str | None:
        """Register input ``k`` as a parameter (optionally with transformed data: then ``view`` says how it
        came from the initializer) and name it."""
        raw = self.const(node, k, role)
        if raw is None:
            return None
        name = node.proto.input[k]
        data = np.asarray(raw if data is None else data, dtype=np.float32)
        if name in self.graph.params:
            if not np.array_equal(self.graph.tensors[name], data) or self.param_views.get(name) != view:
                raise node.error(f"{role} '{name}' is shared with another node in a different layout")
            return name
        self.graph.add_param(name, data.shape, data)
        if view is not None and (view.perm or view.scale != 1.0 or view.shape != data.shape):
            self.param_views[name] = view
        return name

    # -- nodes ----------------------------------------------------------------------

    def _visit(self, node: Node) -> None:
        ins = [self._fold_view(v) for v in (self.value(node, k) for k in range(len(node.proto.input)))]
        if foldable(node.op_type, node.proto.domain, ins):
            self._fold(node, ins)
            return
        handler = HANDLERS.get(node.op_type) if node.proto.domain in ("", "ai.onnx") else None
        if handler is None:
            domain = f" in domain '{node.proto.domain}'" if node.proto.domain not in ("", "ai.onnx") else ""
            raise node.error(f"unsupported op{domain}")
        for name in sorted(set(node.attrs) - HANDLED_ATTRIBUTES[node.op_type]):
            raise node.bad_attr(name, node.attrs[name], "attribute not supported")
        handler(self, node)

    def _fold_view(self, v: Value | None) -> Const | Runtime | None:
        if v is None or isinstance(v, Const):
            return v
        if isinstance(v, Viewed):
            return Runtime(v.view.shape, np.dtype(np.float32), batched=False)
        return Runtime(self.shape_of(v), np.dtype(np.float32))

    def _fold(self, node: Node, ins: list[Const | Runtime | None]) -> None:
        try:
            outs = fold(node.proto, ins, self.opset)
        except FoldError as e:
            if node.op_type in HANDLERS or node.op_type in FOLD_ONLY:
                raise node.error(f"cannot fold constant inputs: {e}") from None
            raise node.error("unsupported op") from None
        for name, out in zip(node.proto.output, outs, strict=False):
            if name:
                self.env[name] = out

    def emit(self, op: Op, node: Node | None, output: str | None = None) -> str:
        """Add an IR op after computing its shape; map the node's output to it."""
        try:
            shape = infer_shape(op, [self.shape_of(i) for i in op.inputs]) if op.inputs else op.shape
        except ShapeError as e:
            raise (node.error(str(e)) if node else LerganError(f"{self.path}: {e}")) from None
        if op.name in self.graph:
            raise (node.error("duplicate node name") if node else LerganError(f"{self.path}: duplicate name"))
        self.graph.add(op.replace(shape=shape))
        self.env[output if output is not None else op.name] = op.name
        return op.name

    def unused_outputs(self, node: Node, first: int, what: tuple[str, ...] = (), why: str = "") -> None:
        """Optional extra outputs (Dropout's mask, BatchNormalization's statistics) must be unused; ``what``
        names them and ``why`` says why the program has none."""
        outputs = {vi.name for vi in self.model.graph.output}
        for k, name in enumerate(node.proto.output[first:]):
            if name and (name in self.consumers or name in outputs):
                role = f" ({what[k]})" if k < len(what) else ""
                raise node.error(f"output '{name}'{role} is used; only the first output is supported{why}")

    def op(self, kind: str, node: Node, inputs: tuple[str, ...], shape: Shape = (), **attrs: Any) -> str:
        """Emit the IR op for ``node``; ``shape`` only for ops whose shape is an attribute (reshape)."""
        op = make_op(kind, name=node.name, layer=node.name, phase="fwd", inputs=inputs, shape=shape, **attrs)
        return self.emit(op, node, node.proto.output[0])


def _initializer(path: str, init: onnx.TensorProto) -> np.ndarray:
    """An initializer's values: its declared size present, finite when it holds floats."""
    try:
        data = numpy_helper.to_array(init)
    except (ValueError, TypeError, KeyError) as e:
        raise LerganError(f"{path}: initializer '{init.name}' is damaged ({' '.join(str(e).split())[:80]})") from None
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise LerganError(f"{path}: initializer '{init.name}' has NaN or infinite values")
    return data


def _opset(path: str, model: onnx.ModelProto) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise LerganError(f"{path}: the model imports no default ONNX opset")
    if version < MIN_OPSET:
        raise LerganError(f"{path}: opset {version} is older than the supported {MIN_OPSET}")
    if version > onnx.defs.onnx_opset_version():
        raise LerganError(f"{path}: opset {version} is newer than the onnx package knows "
                          f"({onnx.defs.onnx_opset_version()}): its operators' semantics are unknown")
    return int(version)


def _dims(dims: Any) -> str:
    return "[" + ", ".join(d.dim_param or str(d.dim_value) if d.HasField("dim_value") or d.dim_param else "?"
                           for d in dims) + "]"


# -- convolutions ----------------------------------------------------------------------


def conv_pads(auto_pad: str, size: Shape, kernel: Shape, stride: Shape, dilation: Shape,
              pads: tuple[int, ...]) -> tuple[int, ...]:
    """Explicit (begins..., ends...) pads of an ONNX Conv, resolving auto_pad as the spec says."""
    n = len(size)
    if auto_pad == "VALID":
        return (0,) * 2 * n
    if auto_pad == "NOTSET":
        return pads or (0,) * 2 * n
    begins, ends = [], []
    for i, s, k, d in zip(size, stride, kernel, dilation, strict=True):
        total = max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
        head = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        begins.append(head)
        ends.append(total - head)
    return (*begins, *ends)


def tconv_pads(auto_pad: str, size: Shape, kernel: Shape, stride: Shape, dilation: Shape,
               output_padding: Shape, pads: tuple[int, ...], output_shape: Shape) -> tuple[int, ...]:
    """Explicit pads of an ONNX ConvTranspose: output_shape and SAME_* give a total padding
    that is split with the extra pixel at the end for SAME_UPPER and at the beginning
    otherwise (the ConvTranspose spec text; onnx.reference agrees for SAME_*)."""
    n = len(size)
    if not output_shape and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = tuple(i * s for i, s in zip(size, stride, strict=True))
    if not output_shape:
        return (0,) * 2 * n if auto_pad == "VALID" else pads or (0,) * 2 * n
    begins, ends = [], []
    for i, k, s, d, op, o in zip(size, kernel, stride, dilation, output_padding, output_shape, strict=True):
        total = s * (i - 1) + op + (k - 1) * d + 1 - o
        head = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        begins.append(head)
        ends.append(total - head)
    return (*begins, *ends)


@dataclass(frozen=True)
class ConvAttrs:
    kernel: Shape
    stride: Shape
    dilation: Shape
    pads: tuple[int, ...]
    group: int
    auto_pad: str


def _conv_attrs(node: Node, weight: np.ndarray, in_shape: Shape) -> ConvAttrs:
    n = weight.ndim - 2
    if n < 1 or len(in_shape) != n + 1:
        raise node.error(f"weight of rank {weight.ndim} on an input of per-sample shape {list(in_shape)}")
    kernel = node.ints("kernel_shape", weight.shape[2:])
    if kernel != tuple(weight.shape[2:]):
        raise node.bad_attr("kernel_shape", kernel, f"weight has kernel {list(weight.shape[2:])}")
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PADS:
        raise node.bad_attr("auto_pad", auto_pad)
    attrs = ConvAttrs(kernel, node.ints("strides", (1,) * n), node.ints("dilations", (1,) * n),
                      node.ints("pads", ()), int(node.attrs.get("group", 1)), auto_pad)
    for name, value, length in (("strides", attrs.stride, n), ("dilations", attrs.dilation, n),
                                ("pads", attrs.pads, 2 * n)):
        if len(value) != length and (value or name != "pads"):
            raise node.bad_attr(name, value, f"needs {length} entries for a {n}-d kernel")
        if any(v < (0 if name == "pads" else 1) for v in value):
            raise node.bad_attr(name, value)
    if attrs.group < 1:
        raise node.bad_attr("group", attrs.group)
    return attrs


def _conv(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    weight = imp.const(node, 1, "weight")
    assert weight is not None
    a = _conv_attrs(node, weight, imp.shape_of(x))
    pads = conv_pads(a.auto_pad, imp.shape_of(x)[1:], a.kernel, a.stride, a.dilation, a.pads)
    imp.op("sconv", node, (x,), out_channels=int(weight.shape[0]), kernel=a.kernel, stride=a.stride, pads=pads,
           dilation=a.dilation, group=a.group, weight=imp.param(node, 1, "weight"), bias=imp.param(node, 2, "bias"))


def _conv_transpose(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    weight = imp.const(node, 1, "weight")
    assert weight is not None
    a = _conv_attrs(node, weight, imp.shape_of(x))
    n = len(a.kernel)
    output_padding = node.ints("output_padding", (0,) * n)
    output_shape = node.ints("output_shape", ())
    for name, value in (("output_padding", output_padding), ("output_shape", output_shape)):
        if value and len(value) != n:
            raise node.bad_attr(name, value, f"needs {n} entries for a {n}-d kernel")
    if min(output_padding, default=0) < 0:
        raise node.bad_attr("output_padding", output_padding)
    pads = tconv_pads(a.auto_pad, imp.shape_of(x)[1:], a.kernel, a.stride, a.dilation, output_padding,
                      a.pads, output_shape)
    pads, output_padding = _extend_end(pads, output_padding)
    if min(pads) < 0:
        why = f"needs negative begin pads {list(pads[:n])}: output positions before the first one any input reaches"
        raise node.bad_attr("output_shape", output_shape, why) if output_shape else node.bad_attr("auto_pad",
                                                                                                a.auto_pad, why)
    imp.op("tconv", node, (x,), out_channels=int(weight.shape[1]) * a.group, kernel=a.kernel, stride=a.stride,
           pads=pads, dilation=a.dilation, group=a.group, output_padding=output_padding,
           weight=imp.param(node, 1, "weight"), bias=imp.param(node, 2, "bias"))


def _extend_end(pads: tuple[int, ...], output_padding: Shape) -> tuple[tuple[int, ...], Shape]:
    """A negative end pad asks for output positions past the last one any input reaches: that is what
    output_padding adds (positions with no tap, bias only), so it becomes output padding."""
    n = len(output_padding)
    extra = [max(0, -e) for e in pads[n:]]
    return (*pads[:n], *(e + x for e, x in zip(pads[n:], extra, strict=True))), \
        tuple(op + x for op, x in zip(output_padding, extra, strict=True))


# -- dense -----------------------------------------------------------------------------


def _flat_input(imp: Importer, node: Node) -> str:
    x = imp.tensor(node)
    shape = imp.shape_of(x)
    if len(shape) != 1:
        raise node.error(f"needs a (batch, features) input, got per-sample shape {list(shape)}")
    return x


def _gemm(imp: Importer, node: Node) -> None:
    """Y = alpha·op(A)·op(B) + beta·C is a dense layer with weight alpha·op(B) in (in, units) and bias beta·C.

    With ``transA=1`` the samples are A's columns: a graph input is handed over transposed."""
    b = imp.const(node, 1, "weight")
    assert b is not None
    if b.ndim != 2:
        raise node.error(f"weight must be a matrix, got shape {list(b.shape)}")
    if int(node.attrs.get("transA", 0)):
        k, m = imp.model_shape(node, 0, "transA=1")
        x = imp.layout(node, 0, (1, 0), m, (k,))
    else:
        x = _flat_input(imp, node)
    trans_b, alpha = int(node.attrs.get("transB", 0)), _f32(node.attrs.get("alpha", 1.0))
    w = (b.T if trans_b else b) * np.float32(alpha)
    units = w.shape[1]
    c = imp.const(node, 2, "bias")
    bias = None
    if c is not None:
        beta = _f32(node.attrs.get("beta", 1.0))
        data, shape = _sample_bias(imp, node, c, units) if c.ndim == 2 and c.shape[0] > 1 else _bias(node, c, units)
        bias = imp.param(node, 2, "bias", data * np.float32(beta), View(shape, (), beta))
    weight = imp.param(node, 1, "weight", w, View(b.shape, (1, 0) if trans_b else (), alpha))
    imp.op("dense", node, (x,), units=int(units), weight=weight, bias=bias)


def _bias(node: Node, c: np.ndarray, units: int) -> tuple[np.ndarray, Shape]:
    """A bias broadcastable to every row: shape (), (1,), (units,) or (1, units); the (units,) vector and the
    shape it comes back in (a single value broadcast to every unit trains as one bias per unit)."""
    if c.size not in (1, units) or c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
        raise node.error(f"bias of shape {list(c.shape)} does not broadcast to (batch, {units})")
    shape = tuple(c.shape) if c.size == units else (units,)
    return np.broadcast_to(c.reshape(-1), (units,)).astype(np.float32), shape


def _sample_bias(imp: Importer, node: Node, c: np.ndarray, units: int) -> tuple[np.ndarray, Shape]:
    """A (rows, units) C adds its own bias row to each sample (the rows of Y are the samples): a (batch, units)
    bias, or one of its broadcasts, for the model's static batch."""
    rows = imp.rows()
    if rows is None or c.shape[0] != rows or c.shape[1] not in (1, units):
        raise node.error(f"bias of shape {list(c.shape)} does not broadcast to ({rows or 'batch'}, {units})")
    return np.broadcast_to(c, (rows, units)).astype(np.float32), (rows, units)


def _matmul(imp: Importer, node: Node) -> None:
    """MatMul by a constant: a dense layer over the rows of A (see ``matmul_plan``), fused with a following
    Add of a constant bias when A is a (batch, features) matrix and B a matrix."""
    w = imp.const(node, 1, "weight")
    assert w is not None
    v = imp.runtime(node, 0)
    if isinstance(v, str) and len(imp.shape_of(v)) == 1 and w.ndim == 2:  # the layer: any batch, even symbolic
        if w.shape[0] != imp.shape_of(v)[0]:
            raise node.error(f"inner dimensions differ: {imp.shape_of(v)[0]} features @ {list(w.shape)}")
        _matmul_dense(imp, node, v, w)
        return
    try:
        plan = plan_matmul(imp.model_shape(node, 0, "a MatMul of a tensor other than (batch, features)"),
                           tuple(w.shape))
    except ValueError as e:
        raise node.error(str(e)) from None
    x = imp.layout(node, 0, plan.a_perm, plan.rows, plan.a_per_sample)
    weight = imp.param(node, 1, "weight", _laid_out(w, plan.b_perm, plan.weight_shape), View(w.shape, plan.b_perm))
    if plan.grouped:
        out = imp.op("sconv", node, (x,), out_channels=plan.groups * plan.units, kernel=(1,), stride=(1,),
                     pads=(0, 0), dilation=(1,), group=plan.groups, weight=weight, bias=None)
    else:
        out = imp.op("dense", node, (x,), units=plan.units, weight=weight, bias=None)
    imp.env[node.proto.output[0]] = imp.viewed(out, View(plan.y_shape, plan.y_perm), f"'{node.name}' (MatMul)")


def _laid_out(a: np.ndarray, perm: tuple[int, ...], shape: Shape) -> np.ndarray:
    return np.ascontiguousarray((a.transpose(perm) if perm else a).reshape(shape), dtype=np.float32)


def _matmul_dense(imp: Importer, node: Node, x: str, w: np.ndarray) -> None:
    add = _bias_add(imp, node)
    bias = None
    if add is not None:
        add_node, k = add
        const = imp.const(add_node, k, "bias")
        assert const is not None  # _bias_add found a constant there
        data, shape = _bias(add_node, const, w.shape[1])
        bias = imp.param(add_node, k, "bias", data, View(shape))
        imp.skip.add(add_node.index)
    out = imp.op("dense", node, (x,), units=int(w.shape[1]), weight=imp.param(node, 1, "weight"), bias=bias)
    if add is not None:
        imp.env[add[0].proto.output[0]] = out


def _bias_add(imp: Importer, node: Node) -> tuple[Node, int] | None:
    """The Add that consumes only this MatMul's output and a constant, with that constant's input slot."""
    out = node.proto.output[0]
    users = imp.consumers.get(out, [])
    if len(users) != 1 or out in {vi.name for vi in imp.model.graph.output}:
        return None
    proto = imp.model.graph.node[users[0]]
    if proto.op_type != "Add" or proto.domain not in ("", "ai.onnx") or len(proto.input) != 2:
        return None
    k = 1 if proto.input[0] == out else 0
    if proto.input[k] == out or not isinstance(imp.env.get(proto.input[k]), Const):
        return None
    return Node(proto, users[0], imp.path), k


# -- element-wise, normalization, reshaping --------------------------------------------------


def _unary(kind: str, **attrs: Callable[[Node], Any]) -> Handler:
    def handler(imp: Importer, node: Node) -> None:  # element-wise: a regrouped tensor stays regrouped
        v = imp.runtime(node)
        x, view, by = (v, None, "") if isinstance(v, str) else (v.op, v.view, v.by)
        out = imp.op(kind, node, (x,), **{k: f(node) for k, f in attrs.items()})
        imp.env[node.proto.output[0]] = imp.viewed(out, view, by)

    return handler


def _batchnorm(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    channels = imp.shape_of(x)[0]
    names = []
    for k, role in enumerate(("scale", "bias", "mean", "var"), start=1):
        data = imp.const(node, k, role)
        if data is None or data.shape != (channels,):
            got = "missing" if data is None else f"shape {list(data.shape)}"
            raise node.error(f"{role} must be a ({channels},) constant, got {got}")
        names.append(imp.param(node, k, role))
    imp.unused_outputs(node, 1, ("the running mean", "the running variance"),
                       ": the banks normalise with batch statistics and keep no running ones")
    scale, bias, mean, var = names
    # training_mode=1 normalizes with the batch's statistics: kept on the op, not dropped
    batch_stats: dict[str, Any] = {"batch_statistics": True} if int(node.attrs.get("training_mode", 0)) else {}
    imp.op("batchnorm", node, (x,), epsilon=_f32(node.attrs.get("epsilon", 1e-5)),
           momentum=_f32(node.attrs.get("momentum", 0.9)), scale=scale, bias=bias, mean=mean, var=var, **batch_stats)


def _flatten(imp: Importer, node: Node) -> None:
    """Flatten to (product of the axes before ``axis``, product of the rest). With ``axis=1`` on a
    (batch, ...) tensor that is the IR's per-sample flatten; any other axis regroups the batch: the IR's
    tensor stays as it is, seen through a view (a graph input read next is handed over so laid out)."""
    v = imp.runtime(node)
    rank = len(v.view.shape) if isinstance(v, Viewed) else len(imp.shape_of(v)) + 1
    axis = int(node.attrs.get("axis", 1))
    if not -rank <= axis <= rank:
        raise node.bad_attr("axis", axis, f"outside [-{rank}, {rank}] for a rank-{rank} input")
    axis = axis + rank if axis < 0 else axis
    if isinstance(v, str) and axis == 1:
        imp.op("flatten", node, (v,))
        return
    shape = imp.model_shape(node, 0, f"axis={node.attrs.get('axis', 1)}")
    if isinstance(v, Viewed) and v.view.perm:
        raise imp.stuck(node, 0, v)
    flat = (math.prod(shape[:axis]), math.prod(shape[axis:]))
    op = v.op if isinstance(v, Viewed) else v
    imp.env[node.proto.output[0]] = imp.viewed(op, View(flat), f"'{node.name}' (Flatten axis={axis})")


def _reshape(imp: Importer, node: Node) -> None:
    x = imp.tensor(node)
    target = imp.value(node, 1)
    if not isinstance(target, Const):
        raise node.error("the target shape is computed at run time and could not be folded")
    shape = reshape_target(node, imp.shape_of(x), target, bool(node.attrs.get("allowzero", 0)), imp.rows())
    imp.op("reshape", node, (x,), shape=shape)


def reshape_target(node: Node, per_sample: Shape, target: Const, allowzero: bool, batch: int | None) -> Shape:
    """The per-sample shape a Reshape produces; its first entry must be the batch.

    Entry 0 may be the folded batch size itself, the inputs' numeric batch size, -1 (when
    the other entries take exactly one sample) or 0 (copy the batch, without allowzero).
    The others follow ONNX: 0 copies the input's dimension, -1 takes what is left.
    """
    a, b = (np.asarray(v).astype(np.int64).reshape(-1).tolist() for v in target.values)
    if len(a) != len(b) or not a:
        raise node.error(f"unsupported target shape {a}")
    rest = []
    for i, (u, v) in enumerate(zip(a[1:], b[1:], strict=True), start=1):
        if u != v:
            raise node.error(f"target shape entry {i} depends on the batch size")
        rest.append(per_sample[i - 1] if u == 0 and not allowzero and i - 1 < len(per_sample) else u)
    size = math.prod(per_sample)
    first_ok = (a[0], b[0]) == BATCHES or (batch is not None and a[0] == b[0] == batch) \
        or (a[0] == 0 and not allowzero) or (a[0] == -1 and -1 not in rest and math.prod(rest) == size)
    if not first_ok:
        raise node.error(f"target shape {a if a == b else 'computed from the batch size'} does not keep "
                         f"the batch dimension first")
    if rest.count(-1) > 1 or any(d < -1 for d in rest):
        raise node.error(f"invalid target shape {a}")
    if -1 in rest:
        known = math.prod(d for d in rest if d != -1)
        if known == 0 or size % known:
            raise node.error(f"cannot reshape {list(per_sample)} per sample to {a}")
        rest[rest.index(-1)] = size // known
    return tuple(rest)


def _identity(imp: Importer, node: Node) -> None:
    imp.env[node.proto.output[0]] = imp.runtime(node)


HANDLERS: dict[str, Handler] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Relu": _unary("relu"),
    "LeakyRelu": _unary("leaky_relu", alpha=lambda n: _f32(n.attrs.get("alpha", 0.01))),
    "Tanh": _unary("tanh"),
    "Sigmoid": _unary("sigmoid"),
    "BatchNormalization": _batchnorm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Identity": _identity,
    **DAG_HANDLERS,  # Add, Concat, Pad, InstanceNormalization, Resize, Upsample, Dropout (onnx_dag.py)
}

# Attributes each handler reads; any other attribute is rejected rather than ignored.
_CONV_ATTRIBUTES = frozenset({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
HANDLED_ATTRIBUTES: dict[str, frozenset[str]] = {
    **dict.fromkeys(HANDLERS, frozenset()),
    "Conv": _CONV_ATTRIBUTES,
    "ConvTranspose": _CONV_ATTRIBUTES | {"output_padding", "output_shape"},
    "Gemm": frozenset({"alpha", "beta", "transA", "transB"}),
    "LeakyRelu": frozenset({"alpha"}),
    "BatchNormalization": frozenset({"epsilon", "momentum", "training_mode"}),
    "Flatten": frozenset({"axis"}),
    "Reshape": frozenset({"allowzero"}),
    **DAG_ATTRIBUTES,
}

# Ops seen in exporters' shape subgraphs: folded when their inputs are constant, else unsupported.
FOLD_ONLY = frozenset({"Shape", "Size", "Gather", "Concat", "Unsqueeze", "Squeeze", "Constant", "Cast", "CastLike",
                       "Slice", "Mul", "Add", "Sub", "Div", "Expand", "ConstantOfShape", "Range", "Equal",
                       "Where", "ReduceProd", "Transpose"})

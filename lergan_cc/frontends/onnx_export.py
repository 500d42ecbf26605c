"""Trained weights back into the source ONNX model (``lergan-sim --write-onnx``, ``lergan_cc.write_onnx``).

The program's sidecar keeps the source model without the weights it holds (the initializers that became
parameters are kept as empty stubs: name, dtype and dims). Writing it back fills every such initializer
with the trained tensor, already in the model's own layout (``lergan_cc.fsm.source.to_model``). A
parameter the front end folded from other constants (a deduplicated weight behind an ``Identity``, a
``Constant`` node) has no initializer of its own: the node that computed it is replaced by one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import helper, numpy_helper

from lergan_cc.errors import LerganError


def without_weights(model: onnx.ModelProto, params: set[str]) -> bytes:
    """``model`` serialized with the initializers in ``params`` as stubs: name, element type and dims, no
    data (the program holds the values)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for init in out.graph.initializer:
        if init.name in params:
            stub = onnx.TensorProto(name=init.name, data_type=init.data_type, dims=list(init.dims))
            init.CopyFrom(stub)
    return out.SerializeToString()


def trained_model(source: bytes, params: Mapping[str, np.ndarray], what: str) -> bytes:
    """The model ``source`` (serialized, weights stubbed) with ``params`` (by ONNX value name) as its weights."""
    try:
        model = onnx.ModelProto.FromString(source)
    except Exception as e:  # protobuf raises its own DecodeError
        raise LerganError(f"{what}: the program's source model does not decode ({type(e).__name__})") from None
    graph = model.graph
    inits = {i.name: k for k, i in enumerate(graph.initializer)}
    producers = {out: node for node in graph.node for out in node.output if out}
    for name, value in params.items():
        if name in inits:
            old = graph.initializer[inits[name]]
            graph.initializer[inits[name]].CopyFrom(_tensor(name, value, old.data_type))
        elif name in producers:
            graph.node.remove(producers[name])
            graph.initializer.append(_tensor(name, value, onnx.TensorProto.FLOAT))
        else:
            raise LerganError(f"{what}: the source model has no value '{name}' to put the trained weights in")
    return model.SerializeToString()


def _tensor(name: str, value: np.ndarray, data_type: int) -> onnx.TensorProto:
    dtype = helper.tensor_dtype_to_np_dtype(data_type) if data_type else np.dtype(np.float32)
    return numpy_helper.from_array(np.asarray(value).astype(dtype), name)

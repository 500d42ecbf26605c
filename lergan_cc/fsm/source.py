"""What a program keeps of its source model: the model's own layout of every param (``source_shape``,
``source_perm``, ``source_scale`` on a ``param`` declaration) and, for an ONNX model, the model itself
without its weights (sidecar keys ``onnx:net``, or ``onnx:G`` and ``onnx:D`` for a GAN).

The program computes in the IR's layouts; weights cross the host boundary in the model's: ``--inputs``
overrides and ``--outputs`` updates are converted here, and ``--write-onnx`` puts the updated weights back
into the source model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lergan_cc.errors import LerganError
from lergan_cc.fsm.program import Program
from lergan_cc.views import View, view_of

MODEL_KEY = "onnx:"  # + net | G | D: the source ONNX model's bytes, without the weights the program holds


def param_views(program: Program) -> dict[str, View]:
    """Param -> the view from the model's tensor to the program's, for params laid out otherwise."""
    out = {}
    for d in program.table("param").values():
        try:
            view = view_of(d.attrs, "source_")
        except ValueError as e:
            raise LerganError(f"param @{d.name}: {e}") from None
        if view is not None:
            out[d.name] = view
    return out


def to_model(program: Program, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Params in the program's layout -> the source model's (names unchanged)."""
    views = param_views(program)
    return {k: views[k].from_ir(v) if k in views else v for k, v in params.items()}


def to_program(program: Program, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Given arrays (run-time inputs, weight overrides) with params in the model's layout -> the program's
    (an array already in the program's shape and not the model's is taken as it is)."""
    views, decls = param_views(program), program.table("param")
    out = dict(arrays)
    for k, view in views.items():
        a = arrays.get(k)
        if a is not None and tuple(a.shape) == view.shape and np.issubdtype(a.dtype, np.floating):
            out[k] = view.to_ir(a, decls[k].shape)
    return out


def source_models(tensors: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    """Network (``net``, ``G``, ``D``) -> the source ONNX model's bytes kept in the sidecar."""
    return {k[len(MODEL_KEY):]: np.asarray(v, dtype=np.uint8).tobytes() for k, v in tensors.items()
            if k.startswith(MODEL_KEY)}

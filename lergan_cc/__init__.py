"""lergan_cc: compile GAN training for the LerGAN 3-D ReRAM PIM accelerator, and simulate it.

The Python API (``docs/api.md``)::

    import lergan_cc
    program = lergan_cc.compile("examples/dcgan.lergan")        # or DSL text, or an onnx.ModelProto
    program.save("dcgan.fsm")                                   # dcgan.fsm + dcgan.fsm.npz
    result = lergan_cc.simulate(program, timing_only=True)
    result.report["time_ns"]

The names are loaded on first use (PEP 562), so importing one submodule (the simulator, the FSM
assembler) does not import the whole compiler.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lergan_cc.api import Program, Result, analyze, compile, load_program, simulate, write_onnx
    from lergan_cc.errors import LerganError

_API = {"Program": "api", "Result": "api", "analyze": "api", "compile": "api", "load_program": "api",
        "simulate": "api", "write_onnx": "api", "LerganError": "errors"}

__all__ = ["LerganError", "Program", "Result", "analyze", "compile", "load_program", "simulate", "write_onnx"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module 'lergan_cc' has no attribute '{name}'")

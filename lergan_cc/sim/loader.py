"""Load a program for the simulator: the ``.fsm`` text and its ``.fsm.npz`` sidecar, nothing else.

Every param the program declares must be in the sidecar with its declared shape and
dtype float32; run-time inputs and weight overrides are checked the same way. The sidecar's
arrays are memory-mapped (:func:`lergan_cc.fsm.sidecar.read_npz`), not copied; the pair's digest is
checked from the archive's listing alone, and every value is checked to be finite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lergan_cc.errors import LerganError, read_bytes
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.source import MODEL_KEY
from lergan_cc.limits import check_finite


def load_text(path: str) -> Program:
    """The program alone (the timing model needs no tensor)."""
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LerganError(f"{path}: not UTF-8 text (byte {e.start}): not an FSM program") from None
    return parse_fsm(text, path)


def load_program(path: str) -> tuple[Program, dict[str, np.ndarray]]:
    from lergan_cc.fsm.sidecar import read_npz, sidecar_digest  # (load_text, timing-only, does without them)

    program = load_text(path)
    sidecar = f"{path}.npz"
    if not Path(sidecar).exists():
        raise LerganError(f"{sidecar}: missing sidecar (the program's tensors; lerganc writes it next to the .fsm)")
    recorded = program.attrs.get("sidecar")
    if recorded is not None and recorded != sidecar_digest(sidecar):
        raise LerganError(f"{sidecar}: not the sidecar of {path} (its digest differs from the one the program "
                          "records: the pair was not written together; compile again)")
    tensors = read_npz(sidecar)
    sources = {k: v for k, v in tensors.items() if k.startswith(MODEL_KEY)}  # the source ONNX models, if any
    return program, {**check_params(program, tensors, sidecar, path), **sources}


def check_params(program: Program, tensors: dict[str, np.ndarray], source: str, fsm_path: str,
                 required: bool = True) -> dict[str, np.ndarray]:
    """The declared params found in ``tensors`` (all of them when ``required``), shape- and dtype-checked."""
    out = {}
    for d in program.table("param").values():
        where = f"(declared at {fsm_path}:{d.line}:{d.column})"
        if d.name not in tensors:
            if required:
                raise LerganError(f"{source}: missing key '{d.name}' {where}")
            continue
        a = tensors[d.name]
        if a.dtype != np.float32 and (required or not np.issubdtype(a.dtype, np.floating)):
            raise LerganError(f"{source}: key '{d.name}' has dtype {a.dtype}, expected float32 {where}")
        if tuple(a.shape) != d.shape:
            raise LerganError(f"{source}: key '{d.name}' has shape {list(a.shape)}, expected {list(d.shape)} {where}")
        out[d.name] = check_finite(np.asarray(a, dtype=np.float32), f"{source}: key '{d.name}'")  # no copy
    return out

"""What the compiler hands out: the typed FSM program, its canonical text, and its tensors (the sidecar)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lergan_cc.fsm.program import Program


@dataclass(frozen=True)
class Emitted:
    program: Program
    text: str
    tensors: dict[str, np.ndarray]

"""What the compiler hands out: the typed FSM program, its canonical text, and its tensors (the sidecar)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lergan_cc.fsm.program import Program


@dataclass(frozen=True)
class Emitted:
    program: Program
    text: str
    tensors: Mapping[str, np.ndarray]  # the sidecar's tensors (``LazyTensors``: drawn when first read)

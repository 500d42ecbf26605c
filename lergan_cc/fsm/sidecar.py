"""The ``prog.fsm.npz`` sidecar: the program's tensors (weights), keyed by param name.

A model with weights (ONNX) keeps its initializers; one without (the DSL) gets seeded
draws as the DCGAN paper initialises: weights normal(0, 0.02), biases 0, batch-norm scale 1,
bias 0, running mean 0 and var 1.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import numpy as np

from lergan_cc.errors import LerganError

INIT_SEED = 0
_CONSTANT = {"bias": 0.0, "bn_bias": 0.0, "bn_scale": 1.0, "bn_mean": 0.0, "bn_var": 1.0}


def initial_tensors(shapes: Mapping[str, tuple[int, ...]], roles: Mapping[str, str],
                    given: Mapping[str, np.ndarray], seed: int = INIT_SEED) -> dict[str, np.ndarray]:
    """The given tensors, and seeded draws (in sorted name order) for the params that have none."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(shapes):
        if name in given:
            out[name] = np.asarray(given[name], dtype=np.float32)
            continue
        role = roles.get(name, "weight")
        if role in _CONSTANT:
            out[name] = np.full(shapes[name], _CONSTANT[role], dtype=np.float32)
        else:
            out[name] = (0.02 * rng.standard_normal(shapes[name])).astype(np.float32)
    return out


def npz_bytes(tensors: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in tensors.items()})
    return buf.getvalue()


def read_npz(path: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file; a missing or unreadable file is a one-line error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise LerganError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise LerganError(f"{path}: not a readable .npz file ({e})") from None

"""The ``prog.fsm.npz`` sidecar: the program's tensors (weights), keyed by param name.

A model with weights (ONNX) keeps its initializers; one without (the DSL) gets seeded
draws as the DCGAN paper initialises: weights normal(0, 0.02), biases 0, batch-norm scale 1,
bias 0, running mean 0 and var 1.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np

from lergan_cc import limits
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


def digest(data: bytes) -> str:
    """What the program's model line records of its sidecar: ``sidecar="sha256:<hex>"``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sealed(text: str, tensors: Mapping[str, np.ndarray]) -> tuple[str, bytes]:
    """The program text with its sidecar's digest on the model line, and the sidecar's bytes.

    The two files are renamed into place sidecar first; a program whose recorded digest differs from
    the sidecar beside it (a pair not written together) is refused by the loader.
    """
    data = npz_bytes(tensors)
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("model "))
    lines[at] = re.sub(r' sidecar="[^"]*"', "", lines[at]) + f' sidecar="{digest(data)}"'
    return "\n".join(lines), data


def read_npz(path: str, data: bytes | None = None) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive (``data``: its bytes, already read); anything else is one line.

    Every member's header is checked before its array is allocated: numbers only (no pickles, strings
    or records), a size that agrees with the member's bytes and fits the host's memory budget.
    """
    raw = read_bytes(path) if data is None else data
    if raw.startswith(b"\x93NUMPY"):
        raise LerganError(f"{path}: a .npy array, not an .npz archive of named arrays (numpy.savez writes one)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise LerganError(f"{path}: not an .npz archive (numpy.savez writes one)") from None
    out: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            out[_key(path, info)] = _member(path, archive, info)
    return out


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise LerganError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LerganError(f"{path}: is a directory") from None
    except OSError as e:
        raise LerganError(f"{path}: cannot read: {e.strerror}") from None


def _key(path: str, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy") or info.is_dir():
        raise LerganError(f"{path}: member '{info.filename}' is not an array (.npy)")
    return info.filename[: -len(".npy")]


_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    key = info.filename[: -len(".npy")]
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in _HEADERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = _HEADERS[version](f)
            header = f.tell()
        _check_header(path, key, shape, dtype, info.file_size - header)
        with archive.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except LerganError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, zlib.error) as e:
        raise LerganError(f"{path}: array '{key}' is unreadable ({' '.join(str(e).split())[:120]})") from None


def _check_header(path: str, key: str, shape: tuple[int, ...], dtype: np.dtype, stored: int) -> None:
    if dtype.kind not in "fiub" or dtype.fields is not None or dtype.subdtype is not None:
        raise LerganError(f"{path}: array '{key}' has dtype {dtype}, not numbers")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != stored:
        raise LerganError(f"{path}: array '{key}' is damaged (its header says {nbytes} bytes, it holds {stored})")
    limits.check_host_bytes(nbytes, f"{path}: array '{key}'")

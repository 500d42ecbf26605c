"""Hypothesis strategies that break valid inputs: the ways files go wrong in the hands of people and tools.

Text (DSL, ``.lir``, FSM, TOML): byte flips, token deletions and duplications, a number replaced by one
past a limit (0, -1, huge, NaN, infinity, an integer of 4,301 digits), line deletions and duplications,
truncation. Binary: the same byte-level damage, and structural edits that keep the container valid so
the reader's checks are reached — ONNX fields (dims, attributes, types, opset) and ``.npz`` arrays
(NaN, infinity, dtype, shape, names).
"""

from __future__ import annotations

import io
import re

import numpy as np
from hypothesis import strategies as st

NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
TOKEN = re.compile(rb"\S+")
LIMITS = [
    b"0",
    b"-1",
    b"1e999",
    b"nan",
    b"inf",
    b"-0",
    b"99999999999",
    b"2147483648",
    b"9" * 4301,
    b"0.5",
    b"1e-300",
    b"65536",
    b"3",
]


@st.composite
def text_damage(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three edits of a text file."""
    for _ in range(draw(st.integers(1, 3))):
        data = draw(st.sampled_from(TEXT_EDITS))(draw, data)
    return data


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return b"\x00"
    i = draw(st.integers(0, len(data) - 1))
    return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]


def _pick(draw: st.DrawFn, pattern: re.Pattern[bytes], data: bytes) -> re.Match[bytes] | None:
    found = list(pattern.finditer(data))
    return draw(st.sampled_from(found)) if found else None


def _delete_token(draw: st.DrawFn, data: bytes) -> bytes:
    m = _pick(draw, TOKEN, data)
    return data if m is None else data[: m.start()] + data[m.end() :]


def _duplicate_token(draw: st.DrawFn, data: bytes) -> bytes:
    m = _pick(draw, TOKEN, data)
    return data if m is None else data[: m.end()] + b" " + m.group() + data[m.end() :]


def _number(draw: st.DrawFn, data: bytes) -> bytes:
    m = _pick(draw, NUMBER, data)
    return data if m is None else data[: m.start()] + draw(st.sampled_from(LIMITS)) + data[m.end() :]


def _line(draw: st.DrawFn, data: bytes) -> bytes:
    lines = data.split(b"\n")
    i = draw(st.integers(0, len(lines) - 1))
    if draw(st.booleans()):
        del lines[i]
    else:
        lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
    return b"\n".join(lines)


def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, max(0, len(data) - 1)))]


TEXT_EDITS = (_flip, _delete_token, _duplicate_token, _number, _number, _number, _line, _truncate)


@st.composite
def bytes_damage(draw: st.DrawFn, data: bytes) -> bytes:
    """Byte flips (a few) or a truncation of a binary file."""
    if draw(st.booleans()):
        return _truncate(draw, data)
    for _ in range(draw(st.integers(1, 4))):
        data = _flip(draw, data)
    return data


# ---- ONNX -------------------------------------------------------------------------------------------------
@st.composite
def onnx_damage(draw: st.DrawFn, data: bytes) -> bytes:
    import onnx
    from onnx import TensorProto

    if draw(st.integers(0, 4)) == 0:
        return draw(bytes_damage(data))
    m = onnx.load_from_string(data)
    g = m.graph
    how = draw(st.sampled_from(["dims", "attr", "elem", "opset", "drop", "op", "input_dim", "output"]))
    big = draw(st.sampled_from([0, -1, 1 << 40, 3, 65536]))
    if how == "dims" and g.initializer:
        t = draw(st.sampled_from(list(g.initializer)))
        if t.dims:
            t.dims[draw(st.integers(0, len(t.dims) - 1))] = big
    elif how == "attr":
        ints = [
            (n, a) for n in g.node for a in n.attribute if a.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.INT)
        ]
        if ints:
            _, a = draw(st.sampled_from(ints))
            if a.type == onnx.AttributeProto.INT:
                a.i = big
            elif a.ints:
                a.ints[draw(st.integers(0, len(a.ints) - 1))] = big
    elif how == "elem":
        vi = draw(st.sampled_from(list(g.input) + list(g.output)))
        vi.type.tensor_type.elem_type = draw(st.sampled_from([TensorProto.INT64, TensorProto.STRING, 0, 999]))
    elif how == "opset":
        m.opset_import[0].version = draw(st.sampled_from([1, 10, 99, 1 << 40]))
    elif how == "drop":
        del g.node[draw(st.integers(0, len(g.node) - 1))]
    elif how == "op":
        g.node[draw(st.integers(0, len(g.node) - 1))].op_type = draw(st.sampled_from(["Conv", "Gemm", "Foo", ""]))
    elif how == "input_dim":
        dims = g.input[0].type.tensor_type.shape.dim
        dims[draw(st.integers(0, len(dims) - 1))].dim_value = big
    else:
        del g.output[:]
    return m.SerializeToString()


# ---- npz ---------------------------------------------------------------------------------------------------
@st.composite
def npz_damage(draw: st.DrawFn, data: bytes) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(bytes_damage(data))
    with np.load(io.BytesIO(data)) as z:
        arrays = {k: z[k] for k in z.files}
    if not arrays:
        return data
    key = draw(st.sampled_from(sorted(arrays)))
    a = arrays[key]
    how = draw(st.sampled_from(["nan", "inf", "huge", "dtype", "shape", "rename", "drop", "npy", "extra"]))
    if how in ("nan", "inf", "huge") and a.size:
        a = a.astype(np.float64 if how == "huge" or a.dtype.kind != "f" else a.dtype).copy()  # an int can't hold nan
        a.flat[draw(st.integers(0, a.size - 1))] = {"nan": np.nan, "inf": np.inf, "huge": 1e300}[how]
        arrays[key] = a
    elif how == "dtype":
        arrays[key] = a.astype(draw(st.sampled_from([np.int64, np.float64, np.bool_, np.complex64, np.float16])))
    elif how == "shape":
        arrays[key] = np.zeros(draw(st.sampled_from([(0,), (1,), (3, 3), (*a.shape, 1), a.shape[:-1]])), a.dtype)
    elif how == "rename":
        arrays[key + "x"] = arrays.pop(key)
    elif how == "drop":
        del arrays[key]
    elif how == "npy":
        buf = io.BytesIO()
        np.save(buf, a)
        return buf.getvalue()
    else:
        arrays["unexpected"] = np.zeros(2, np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()

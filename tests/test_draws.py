"""The seeded initial weights (``lergan_cc.fsm.draws``) and the sidecar written from them block by block.

References: Box-Muller in float64 on the tensor's own PCG64 stream drawn in one call (the draws are
float32 computations of it); the normal distribution's CDF (``math.erf``); the sidecar of the same
tensors drawn whole and written by the array path; ``numpy.load`` reading the archive back.
"""

from __future__ import annotations

import io
import math
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from lergan_cc.errors import LerganError
from lergan_cc.fsm import draws
from lergan_cc.fsm.draws import SIGMA, Normal, blocks, fill
from lergan_cc.fsm.sidecar import ALIGN, LazyTensors, initial_tensors, read_npz, write_npz


def reference(name: str, size: int, seed: int = 0) -> np.ndarray:
    """Box-Muller in float64 from the tensor's stream, uniforms drawn in one call."""
    pairs = (size + 1) // 2
    u = np.random.default_rng([seed, zlib.crc32(name.encode())]).random(2 * pairs, dtype=np.float32)
    r = np.sqrt(-2 * SIGMA**2 * np.log1p(-u[0::2].astype(np.float64)))
    angle = 2 * math.pi * u[1::2].astype(np.float64)
    out = np.empty(2 * pairs)
    out[0::2], out[1::2] = r * np.cos(angle), r * np.sin(angle)
    return out[:size]


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 100_001])
def test_values_are_box_muller_of_the_tensors_stream(size: int) -> None:
    got = Normal("G/l1.weight", (size,), 0).array()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference("G/l1.weight", size), rtol=0, atol=SIGMA * 2e-6)


def test_distribution_is_normal_with_std_sigma() -> None:
    """One million values: mean, std and the Kolmogorov-Smirnov distance to normal(0, 0.02) (1 % level)."""
    x = np.sort(Normal("D/conv.weight", (1000, 1000), 7).array().astype(np.float64).reshape(-1))
    n = x.size
    assert abs(x.mean()) < 5 * SIGMA / math.sqrt(n)
    assert abs(x.std() / SIGMA - 1) < 5 / math.sqrt(2 * n)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / (SIGMA * math.sqrt(2))))
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.63 / math.sqrt(n)
    assert np.abs(x).max() < 5.8 * SIGMA


@pytest.mark.parametrize("block", [2, 6, 1 << 10, 1 << 18])
@pytest.mark.parametrize("parallel_from", [0, 1 << 40])
def test_independent_of_blocks_and_threads(monkeypatch: pytest.MonkeyPatch, block: int, parallel_from: int) -> None:
    """The same bits whatever the block size and whether the blocks are drawn on threads or not, every run."""
    tensors = [Normal("G/a.weight", (33, 31), 3), Normal("G/b.weight", (4097,), 3), Normal("D/c.weight", (2, 2), 3)]
    whole = [np.empty(t.size, np.float32) for t in tensors]
    for t, w in zip(tensors, whole, strict=True):
        fill(w, t, 0)
    monkeypatch.setattr(draws, "BLOCK", block)
    monkeypatch.setattr(draws, "_PARALLEL", parallel_from)
    for t, w in zip(tensors, whole, strict=True):
        assert np.array_equal(t.array().reshape(-1).view(np.uint32), w.view(np.uint32))
    streamed = np.concatenate([b.copy() for b in blocks(tensors)])
    assert np.array_equal(streamed.view(np.uint32), np.concatenate(whole).view(np.uint32))


def test_streams_differ_by_name_and_seed() -> None:
    a = Normal("G/a.weight", (64,), 0).array()
    assert not np.array_equal(a, Normal("G/b.weight", (64,), 0).array())
    assert not np.array_equal(a, Normal("G/a.weight", (64,), 1).array())
    assert np.array_equal(a, Normal("G/a.weight", (64,), 0).array())


SHAPES = {"G/fc.weight": (100, 4097), "G/fc.bias": (4097,), "G/bn.bn_scale": (3,), "D/c.weight": (5, 3, 4, 4)}
ROLES = {"G/fc.bias": "bias", "G/bn.bn_scale": "bn_scale"}


@pytest.mark.parametrize("parallel_from", [0, 1 << 40])
def test_sidecar_streamed_equals_sidecar_of_whole_tensors(monkeypatch: pytest.MonkeyPatch,
                                                          parallel_from: int) -> None:
    """The archive written block by block is byte for byte the one written from the drawn arrays, and
    ``numpy.load`` and ``read_npz`` read the draws back (data 64-byte aligned)."""
    monkeypatch.setattr(draws, "BLOCK", 1 << 12)
    monkeypatch.setattr(draws, "_PARALLEL", parallel_from)
    extra = {"onnx:G": np.arange(5, dtype=np.uint8)}
    lazy = LazyTensors(SHAPES, ROLES, {}, extra)
    streamed, whole = io.BytesIO(), io.BytesIO()
    digest = write_npz(streamed, lazy)
    tensors = initial_tensors(SHAPES, ROLES, {}) | extra
    assert write_npz(whole, tensors) == digest
    assert streamed.getvalue() == whole.getvalue()
    assert list(lazy) == list(tensors)
    with np.load(io.BytesIO(streamed.getvalue())) as back:
        assert sorted(back.files) == sorted(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
    assert np.array_equal(tensors["G/fc.weight"], Normal("G/fc.weight", SHAPES["G/fc.weight"], 0).array())
    assert not tensors["G/fc.bias"].any() and (tensors["G/bn.bn_scale"] == 1).all()
    with zipfile.ZipFile(io.BytesIO(streamed.getvalue())) as zf:
        for info in zf.infolist():
            local = streamed.getvalue()[info.header_offset:info.header_offset + 30]
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30],
                                                                                                        "little")
            header = 10 + int.from_bytes(streamed.getvalue()[start + 8:start + 10], "little")
            assert (start + header) % ALIGN == 0


def test_sidecar_file_maps_the_draws(tmp_path: Path) -> None:
    path = tmp_path / "p.fsm.npz"
    lazy = LazyTensors(SHAPES, ROLES, {})
    with open(path, "wb") as f:
        write_npz(f, lazy)
    back = read_npz(str(path))
    assert all(np.array_equal(back[k], lazy[k]) for k in SHAPES)


def test_a_failed_write_leaves_no_drawing_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error between two drawn tensors (blocks of the second already being drawn) ends the workers."""
    monkeypatch.setattr(draws, "BLOCK", 1 << 10)
    monkeypatch.setattr(draws, "_PARALLEL", 0)
    before = threading.active_count()
    tensors = {"a": Normal("a", (5000,), 0), "b": np.array([object()]), "c": Normal("c", (50_000,), 0)}
    with pytest.raises(LerganError, match="tensor 'b': object arrays cannot be stored"):
        write_npz(io.BytesIO(), tensors)  # type: ignore[arg-type]
    assert threading.active_count() == before

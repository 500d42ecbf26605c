"""The seeded initial weights (``lergan_cc.fsm.draws``) and the sidecar written as they are drawn.

References: numpy drawing each tensor in one call (``default_rng([seed, crc32(name)])``'s float32
``standard_normal`` times 0.02); ``zipfile`` writing the same members one after the other (the writer
before the positional one, kept here); ``numpy.load`` and ``zipfile.testzip`` reading the archive back.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from lergan_cc.fsm import draws, sidecar
from lergan_cc.fsm.draws import Normal
from lergan_cc.fsm.sidecar import ALIGN, LazyTensors, initial_tensors, read_npz, write_npz


def drawn_in_one_call(name: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    out = np.random.default_rng([seed, zlib.crc32(name.encode())]).standard_normal(shape, dtype=np.float32)
    return out * np.float32(0.02)


def zipfile_npz(tensors: dict[str, np.ndarray]) -> bytes:
    """The archive as ``zipfile`` writes it member by member: stored, fixed dates, data 64-byte aligned."""
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in tensors.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(arr))
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.file_size = len(header.getvalue()) + arr.nbytes
            info.external_attr = 0o644 << 16
            zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
            start = f.tell() + 30 + len(info.filename.encode()) + (20 if zip64 else 0)
            need = -start % ALIGN
            need += ALIGN if 0 < need < 4 else 0
            info.extra = (need - 4).to_bytes(2, "little").join([(0xD935).to_bytes(2, "little"), bytes(need - 4)]) \
                if need else b""
            with zf.open(info, "w") as member:
                member.write(header.getvalue())
                member.write(np.asfortranarray(arr).T.tobytes() if arr.flags.f_contiguous and not
                             arr.flags.c_contiguous else arr.tobytes())
    return f.getvalue()


SHAPES = {"G/fc.weight": (100, 4097), "G/fc.bias": (4097,), "G/bn.bn_scale": (3,), "D/c.weight": (5, 3, 4, 4),
          "D/d.weight": (700, 1500)}
ROLES = {"G/fc.bias": "bias", "G/bn.bn_scale": "bn_scale"}


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 1001), (64, 64, 4, 4)])
def test_values_are_numpys_draws_of_the_tensors_stream(shape: tuple[int, ...]) -> None:
    want = drawn_in_one_call("G/l1.weight", shape)
    got = Normal("G/l1.weight", shape, 0).array()
    assert got.dtype == np.float32 and got.shape == shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert abs(float(Normal("G/l1.weight", (1000, 1000), 0).array().std()) - 0.02) < 1e-4


@pytest.mark.parametrize("block", [2, 1000, 1 << 18])
def test_stream_puts_the_same_values_block_by_block(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(draws, "BLOCK", block)
    t = Normal("D/c.weight", (33, 301), 5)
    out = bytearray(7 + 4 * t.size)

    def put(offset: int, data: memoryview) -> None:
        out[offset:offset + len(data)] = data

    crc = t.stream(put, 7, zlib.crc32(b"head"))
    want = drawn_in_one_call("D/c.weight", (33, 301), 5).tobytes()
    assert bytes(out[7:]) == want and crc == zlib.crc32(b"head" + want)


def test_streams_differ_by_name_and_seed() -> None:
    a = Normal("G/a.weight", (64,), 0).array()
    assert not np.array_equal(a, Normal("G/b.weight", (64,), 0).array())
    assert not np.array_equal(a, Normal("G/a.weight", (64,), 1).array())


@pytest.mark.parametrize("parallel_from", [0, 1 << 40])
@pytest.mark.parametrize("to_file", [False, True])
def test_sidecar_is_zipfiles_archive_byte_for_byte(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   parallel_from: int, to_file: bool) -> None:
    """Drawn on threads or not, into a file (``os.pwrite``) or memory: ``zipfile``'s archive of the tensors
    drawn whole; ``numpy.load`` reads them back, each array's data 64-byte aligned."""
    monkeypatch.setattr(draws, "BLOCK", 1 << 12)
    monkeypatch.setattr(sidecar, "_PARALLEL", parallel_from)
    extra = {"onnx:G": np.arange(5, dtype=np.uint8)}
    lazy = LazyTensors(SHAPES, ROLES, {}, extra)
    if to_file:
        with open(tmp_path / "p.npz", "wb") as f:
            digest = write_npz(f, lazy)
        got = (tmp_path / "p.npz").read_bytes()
    else:
        buf = io.BytesIO()
        digest = write_npz(buf, lazy)
        got = buf.getvalue()
    tensors = initial_tensors(SHAPES, ROLES, {}) | extra
    assert got == zipfile_npz(tensors)
    assert list(lazy) == list(tensors)
    assert np.array_equal(tensors["D/d.weight"], drawn_in_one_call("D/d.weight", SHAPES["D/d.weight"]))
    assert not tensors["G/fc.bias"].any() and (tensors["G/bn.bn_scale"] == 1).all()
    with zipfile.ZipFile(io.BytesIO(got)) as zf:
        assert zf.testzip() is None and sidecar.digest_of(zf.infolist()) == digest
        for info in zf.infolist():
            local = got[info.header_offset:info.header_offset + 30]
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") \
                + int.from_bytes(local[28:30], "little")
            assert (start + 10 + int.from_bytes(got[start + 8:start + 10], "little")) % ALIGN == 0
    with np.load(io.BytesIO(got)) as back:
        assert sorted(back.files) == sorted(tensors)
        assert all(back[k].dtype == v.dtype and np.array_equal(back[k], v) for k, v in tensors.items())


def test_arrays_of_any_layout_and_zip64_records_as_zipfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fortran-ordered, transposed, 0-d, empty, non-float arrays; with zipfile's zip64 limit lowered so that
    the members, offsets and central directory need zip64 records, as a model over 4 GB does."""
    base = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    tensors = {"f": np.asfortranarray(base), "t": base.transpose(2, 0, 1), "s": base[:, ::2], "z": np.array(3.5),
               "e": np.zeros((0, 3), np.float32), "u": np.arange(300, dtype=np.uint8), "é": np.ones(2, np.int64)}
    for limit in (zipfile.ZIP64_LIMIT, 150):
        monkeypatch.setattr(zipfile, "ZIP64_LIMIT", limit)
        buf = io.BytesIO()
        write_npz(buf, tensors)
        assert buf.getvalue() == zipfile_npz({k: np.asarray(v) for k, v in tensors.items()})
        with np.load(io.BytesIO(buf.getvalue())) as back:
            assert all(np.array_equal(back[k], v) for k, v in tensors.items())


def test_a_failed_write_ends_the_drawing_threads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A write error (a full disk) while the tensors are drawn on threads: raised, and no thread left."""
    monkeypatch.setattr(draws, "BLOCK", 1 << 10)
    monkeypatch.setattr(sidecar, "_PARALLEL", 0)
    calls = []
    real = os.pwrite

    def failing(fd: int, data: memoryview, offset: int) -> int:
        calls.append(offset)
        if len(calls) > 20:
            raise OSError(28, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(sidecar.os, "pwrite", failing)
    before = threading.active_count()
    with open(tmp_path / "p.npz", "wb") as f, pytest.raises(OSError, match="No space left"):
        write_npz(f, LazyTensors(SHAPES, ROLES, {}))
    assert threading.active_count() == before


def test_sidecar_file_maps_the_draws(tmp_path: Path) -> None:
    path = tmp_path / "p.fsm.npz"
    lazy = LazyTensors(SHAPES, ROLES, {})
    with open(path, "wb") as f:
        write_npz(f, lazy)
    back = read_npz(str(path))
    assert all(np.array_equal(back[k], lazy[k]) for k in SHAPES)

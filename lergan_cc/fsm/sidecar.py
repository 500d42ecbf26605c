"""The ``prog.fsm.npz`` sidecar: the program's tensors (weights), keyed by param name.

A model with weights (ONNX) keeps its initializers; one without (the DSL) gets seeded
draws as the DCGAN paper initialises: weights normal(0, 0.02), biases 0, batch-norm scale 1,
bias 0, running mean 0 and var 1.

The file is a standard ``.npz`` (``np.load`` reads it) written for fast loading: every tensor
once, uncompressed (random weights do not compress: zlib saves 7 % at 19 MB/s, see
docs/performance.md), with each array's data aligned to 64 bytes inside the zip so that
:func:`read_npz` maps it from the file instead of reading it: a tensor's pages are read when
the simulator first touches them, and only then.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import IO

import numpy as np
from numpy.lib import format as npy

from lergan_cc.errors import LerganError

INIT_SEED = 0
_CONSTANT = {"bias": 0.0, "bn_bias": 0.0, "bn_scale": 1.0, "bn_mean": 0.0, "bn_var": 1.0, "in_scale": 1.0,
             "in_bias": 0.0}
ALIGN = 64  # as the .npy format aligns its own data
_PAD_ID = 0xD935  # the extra-field id Android's zipalign uses for padding
_LOCAL_HEADER = struct.Struct("<4s5HL2L2H")  # 30 bytes: signature ... name length, extra length
_ZIP64_EXTRA = 20  # what zipfile adds to a local header that needs zip64 sizes
_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed member date: the same tensors give the same bytes


def initial_tensors(shapes: Mapping[str, tuple[int, ...]], roles: Mapping[str, str],
                    given: Mapping[str, np.ndarray], seed: int = INIT_SEED) -> dict[str, np.ndarray]:
    """The given tensors, and seeded draws for the params that have none.

    Each drawn tensor has its own stream, seeded by ``seed`` and its name (so a tensor's values do
    not depend on the other params), drawn as float32 normals scaled by 0.02 (numpy's float32
    ziggurat: 3.6x faster than drawing float64 and rounding), on as many threads as there are cores
    (numpy releases the GIL while it fills an array)."""
    out: dict[str, np.ndarray] = {}
    drawn = []
    for name in sorted(shapes):
        if name in given:
            out[name] = np.asarray(given[name], dtype=np.float32)
            continue
        role = roles.get(name, "weight")
        if role in _CONSTANT:
            out[name] = np.full(shapes[name], _CONSTANT[role], dtype=np.float32)
        else:
            out[name] = np.empty(shapes[name], dtype=np.float32)
            drawn.append(name)
    jobs = [partial(_draw, out[n], seed, n) for n in drawn]
    if sum(out[n].size for n in drawn) < 1 << 20 or (os.cpu_count() or 1) < 2:
        for job in jobs:
            job()
    else:
        with ThreadPoolExecutor(min(len(jobs), os.cpu_count() or 1)) as pool:
            list(pool.map(lambda job: job(), jobs))
    return out


def _draw(out: np.ndarray, seed: int, name: str) -> None:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    rng.standard_normal(out.shape, dtype=np.float32, out=out)
    out *= np.float32(0.02)


def write_npz(f: IO[bytes], tensors: Mapping[str, np.ndarray]) -> None:
    """``tensors`` as an ``.npz`` into the seekable binary file ``f`` (stored, data 64-byte aligned)."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in tensors.items():
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise LerganError(f"tensor '{key}': object arrays cannot be stored")
            header = _npy_header(arr)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = len(header) + arr.nbytes
            info.external_attr = 0o644 << 16
            zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule
            start = f.tell() + _LOCAL_HEADER.size + len(info.filename.encode()) + (_ZIP64_EXTRA if zip64 else 0)
            info.extra = _padding(start)
            with zf.open(info, "w") as member:
                member.write(header)
                _write_data(member, arr)


def npz_bytes(tensors: Mapping[str, np.ndarray]) -> bytes:
    """:func:`write_npz` into memory (small outputs; the compiler streams the sidecar to its file)."""
    buf = io.BytesIO()
    write_npz(buf, tensors)
    return buf.getvalue()


def _npy_header(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    try:
        npy.write_array_header_1_0(buf, npy.header_data_from_array_1_0(arr))
    except ValueError:  # a header over 64 KiB
        buf = io.BytesIO()
        npy.write_array_header_2_0(buf, npy.header_data_from_array_1_0(arr))
    return buf.getvalue()


def _padding(start: int) -> bytes:
    """An extra field that moves data starting at ``start`` (before the field) to a multiple of ALIGN."""
    need = -start % ALIGN
    if need == 0:
        return b""
    if need < 4:  # the smallest field is its 4-byte id and length
        need += ALIGN
    return struct.pack("<HH", _PAD_ID, need - 4) + bytes(need - 4)


def _write_data(out: IO[bytes], arr: np.ndarray) -> None:
    """The data in the order the header states: C, or Fortran for an F-contiguous array (as numpy)."""
    if arr.flags.f_contiguous and not arr.flags.c_contiguous:
        arr = arr.T
    if arr.flags.c_contiguous or arr.ndim == 0:
        out.write(np.ascontiguousarray(arr).reshape(-1).data.cast("B"))
        return
    for part in arr:  # any other strides (a transposed view): one leading slice at a time
        out.write(np.ascontiguousarray(part).reshape(-1).data.cast("B"))


def read_npz(path: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file; a missing or unreadable file is a one-line error.

    Members stored uncompressed are memory-mapped read-only (as ``np.load(..., mmap_mode="r")``: the
    arrays are not writable; copy one to change it); compressed ones (``np.savez_compressed``) are read."""
    try:
        with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if _mappable(infos) else None
            return {_key(i.filename): _member(zf, f, view, i) for i in infos}
    except FileNotFoundError:
        raise LerganError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, struct.error) as e:
        raise LerganError(f"{path}: not a readable .npz file ({e})") from None


_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def _key(filename: str) -> str:
    return filename[:-4] if filename.endswith(".npy") else filename


def _mappable(infos: list[zipfile.ZipInfo]) -> bool:
    return any(i.compress_type == zipfile.ZIP_STORED and i.file_size > mmap.PAGESIZE for i in infos)


def _member(zf: zipfile.ZipFile, f: IO[bytes], view: mmap.mmap | None, info: zipfile.ZipInfo) -> np.ndarray:
    if view is None or info.compress_type != zipfile.ZIP_STORED or info.file_size <= mmap.PAGESIZE:
        with zf.open(info) as member:
            return npy.read_array(member, allow_pickle=False)
    f.seek(info.header_offset)
    local = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if local[0] != b"PK\x03\x04":
        raise ValueError(f"bad local header of {info.filename}")
    f.seek(info.header_offset + _LOCAL_HEADER.size + local[-2] + local[-1])
    version = npy.read_magic(f)
    if version not in _HEADER_READERS:
        with zf.open(info) as member:
            return npy.read_array(member, allow_pickle=False)
    shape, fortran, dtype = _HEADER_READERS[version](f)
    if dtype.hasobject:
        raise ValueError(f"{info.filename}: object arrays are not allowed")
    offset = f.tell()
    count = int(np.prod(shape, dtype=np.int64))
    if offset + count * dtype.itemsize > len(view):
        raise ValueError(f"{info.filename}: data runs past the end of the file")
    return np.ndarray(shape, dtype, buffer=view, offset=offset, order="F" if fortran else "C")


def release(arr: np.ndarray) -> None:
    """Drop the pages of a tensor :func:`read_npz` mapped from this process's memory (a replaced weight:
    the pages are clean copies of the file, read again if anything still uses the array). Any other
    array: nothing happens."""
    view = arr.base
    if not isinstance(view, mmap.mmap) or not hasattr(view, "madvise") or view.closed:
        return
    start = arr.ctypes.data - np.frombuffer(view, dtype=np.uint8).ctypes.data
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + arr.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        view.madvise(mmap.MADV_DONTNEED, first, last - first)

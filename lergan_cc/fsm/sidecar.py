"""The ``prog.fsm.npz`` sidecar: the program's tensors (weights), keyed by param name.

A model with weights (ONNX) keeps its initializers; one without (the DSL) gets seeded
draws as the DCGAN paper initialises: weights normal(0, 0.02), biases 0, batch-norm scale 1,
bias 0, running mean 0 and var 1.

The file is a standard ``.npz`` (``np.load`` reads it) written for fast loading: every tensor
once, uncompressed (random weights do not compress: zlib saves 7 % at 19 MB/s, see
docs/performance.md), with each array's data aligned to 64 bytes inside the zip so that
:func:`read_npz` maps it from the file instead of reading it: a tensor's pages are read when
the simulator first touches them, and only then.

A program records its sidecar's digest on its model line (``sidecar="sha256:…"``: of the archive's
listing — every member's name, size and CRC-32 — so neither side reads the data again to check it);
the loader refuses a sidecar whose digest differs (a pair not written together, ``lergan_cc.outputs``).
Every member's ``.npy`` header is checked before its array is mapped or read: numbers only (no pickles,
strings or records), a size that agrees with the member's bytes and fits the host's memory budget.
"""

from __future__ import annotations

import hashlib
import io
import math
import mmap
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy

from lergan_cc import limits
from lergan_cc.errors import LerganError, read_error
from lergan_cc.fsm.draws import Normal

INIT_SEED = 0
_CONSTANT = {"bias": 0.0, "bn_bias": 0.0, "bn_scale": 1.0, "bn_mean": 0.0, "bn_var": 1.0, "in_scale": 1.0,
             "in_bias": 0.0}
ALIGN = 64  # as the .npy format aligns its own data
_PAD_ID = 0xD935  # the extra-field id Android's zipalign uses for padding
_LOCAL_HEADER = struct.Struct("<4s5HL2L2H")  # 30 bytes: signature ... name length, extra length
_ZIP64_EXTRA = 20  # what zipfile adds to a local header that needs zip64 sizes
_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed member date: the same tensors give the same bytes
_PARALLEL = 1 << 20  # fewer drawn values than this are drawn on the calling thread


def initial_tensors(shapes: Mapping[str, tuple[int, ...]], roles: Mapping[str, str],
                    given: Mapping[str, np.ndarray], seed: int = INIT_SEED) -> dict[str, np.ndarray]:
    """The given tensors, and seeded draws for the params that have none (``lergan_cc.fsm.draws``: each
    tensor its own stream, seeded by ``seed`` and its name, so a tensor's values do not depend on the
    other params), in name order."""
    return {name: t.array() if isinstance(t, Normal) else t for name, t in _planned(shapes, roles, given, seed)}


def _planned(shapes: Mapping[str, tuple[int, ...]], roles: Mapping[str, str], given: Mapping[str, np.ndarray],
             seed: int) -> list[tuple[str, np.ndarray | Normal]]:
    """:func:`initial_tensors`' (name, tensor) in name order, a drawn tensor as its :class:`Normal` (not drawn)."""
    out: list[tuple[str, np.ndarray | Normal]] = []
    for name in sorted(shapes):
        role = roles.get(name, "weight")
        if name in given:
            out.append((name, np.asarray(given[name], dtype=np.float32)))
        elif role in _CONSTANT:
            out.append((name, np.full(shapes[name], _CONSTANT[role], dtype=np.float32)))
        else:
            out.append((name, Normal(name, tuple(shapes[name]), seed)))
    return out


class LazyTensors(Mapping[str, np.ndarray]):
    """:func:`initial_tensors` (then ``extra``, e.g. the model's source), drawn on first use: a program
    simulated timing-only (``lergan-bench``) never reads a tensor, so its compile draws none, and
    :func:`write_npz` writes the draws block by block as they are drawn, never holding a whole tensor. Its
    keys are known without drawing."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], roles: Mapping[str, str],
                 given: Mapping[str, np.ndarray], extra: Mapping[str, np.ndarray] | None = None,
                 seed: int = INIT_SEED) -> None:
        self._extra = dict(extra or {})
        self._keys = sorted(shapes) + [k for k in self._extra if k not in shapes]  # initial_tensors' order
        self._args = (dict(shapes), dict(roles), given, seed)
        self._data: dict[str, np.ndarray] | None = None

    def drawn(self) -> dict[str, np.ndarray]:
        if self._data is None:
            self._data = initial_tensors(*self._args) | self._extra
        return self._data

    def members(self) -> list[tuple[str, np.ndarray | Normal]]:
        """(name, tensor) in order, a tensor not drawn yet as its :class:`Normal`."""
        if self._data is not None:
            return list(self._data.items())
        planned = dict(_planned(*self._args)) | self._extra  # an extra of the same name replaces it
        return list(planned.items())

    def __getitem__(self, key: str) -> np.ndarray:
        return self.drawn()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def write_npz(f: IO[bytes], tensors: Mapping[str, np.ndarray]) -> str:
    """``tensors`` as an ``.npz`` into the seekable binary file ``f`` (stored, data 64-byte aligned);
    returns the archive's digest (:func:`digest_of`).

    The archive is the one ``zipfile`` writes member by member (a test holds the two byte for byte), laid
    out first: each member's data is put at its place as it comes (a tensor not drawn yet is drawn there
    block by block, the tensors on one thread per core, largest first, each with its CRC-32), then the
    local headers with their CRCs, then ``zipfile`` writes the central directory of those members."""
    items: list[tuple[str, np.ndarray | Normal]] = \
        tensors.members() if isinstance(tensors, LazyTensors) else list(tensors.items())
    start = f.tell()
    members = _layout(items, start)
    f.flush()
    put = _positional(f)
    drawn = sorted(((m, m.value) for m in members if isinstance(m.value, Normal)), key=lambda mv: -mv[0].size)
    workers = min(len(drawn), os.cpu_count() or 1, 8) if sum(m.size for m, _ in drawn) >= _PARALLEL else 1
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        done = {id(m): pool.submit(normal.stream, put, m.data_at, zlib.crc32(m.header))
                for m, normal in drawn} if workers > 1 else {}
        for m in members:
            put(m.info.header_offset + m.header_at, m.header)
            if isinstance(m.value, Normal):
                m.info.CRC = done[id(m)].result() if id(m) in done else \
                    m.value.stream(put, m.data_at, zlib.crc32(m.header))
            else:
                sink = _Sink(put, m.data_at, zlib.crc32(m.header))
                _write_data(sink, m.value)
                m.info.CRC = sink.crc
    for m in members:
        put(m.info.header_offset, m.info.FileHeader(m.zip64))
    f.seek(members[-1].data_at + members[-1].size if members else start)
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.filelist.extend(m.info for m in members)  # the central directory of the members put above
    return digest_of([m.info for m in members])


@dataclass
class _Member:
    info: zipfile.ZipInfo
    zip64: bool
    header: bytes  # the .npy header
    header_at: int  # its offset from the local header
    value: np.ndarray | Normal
    size: int  # data bytes after the .npy header

    @property
    def data_at(self) -> int:
        return self.info.header_offset + self.header_at + len(self.header)


def _layout(items: list[tuple[str, np.ndarray | Normal]], at: int) -> list[_Member]:
    """Each member's ``ZipInfo`` (as ``zipfile`` would fill it for a stored member written at ``at`` on),
    .npy header and data offset."""
    out: list[_Member] = []
    for key, value in items:
        if isinstance(value, Normal):
            header = _npy_header({"descr": npy.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                                  "shape": value.shape})
            size = 4 * value.size
        else:
            value = np.asarray(value)
            if value.dtype.hasobject:
                raise LerganError(f"tensor '{key}': object arrays cannot be stored")
            header, size = _npy_header(npy.header_data_from_array_1_0(value)), value.nbytes
        info = zipfile.ZipInfo(f"{key}.npy", date_time=_DATE)
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = info.compress_size = len(header) + size
        info.external_attr = 0o644 << 16
        info.header_offset, info.CRC = at, 0  # the CRC once the data is written
        zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule
        info.extra = _padding(at + _LOCAL_HEADER.size + len(info.filename.encode()) + (_ZIP64_EXTRA if zip64 else 0))
        member = _Member(info, zip64, header, len(info.FileHeader(zip64)), value, size)
        out.append(member)
        at = member.data_at + size
    return out


def _positional(f: IO[bytes]) -> Callable[[int, bytes | memoryview], None]:
    """``put(offset, data)`` into ``f`` from any thread: ``os.pwrite`` on its file descriptor, else seek and
    write under a lock (``io.BytesIO``)."""
    try:
        fd = f.fileno()
    except (OSError, io.UnsupportedOperation):
        lock = threading.Lock()

        def locked(offset: int, data: bytes | memoryview) -> None:
            with lock:
                f.seek(offset)
                f.write(data)
        return locked

    def pwrite(offset: int, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n
    return pwrite


class _Sink:
    """A write-only file over ``put`` from ``offset`` on, keeping the CRC-32 of what went through."""

    def __init__(self, put: Callable[[int, bytes | memoryview], None], offset: int, crc: int) -> None:
        self.put, self.offset, self.crc = put, offset, crc

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        self.crc = zlib.crc32(view, self.crc)
        self.put(self.offset, view)
        self.offset += view.nbytes
        return view.nbytes


def digest_of(infos: list[zipfile.ZipInfo]) -> str:
    """What a program's model line records of its sidecar: a hash of every member's name, size, CRC-32."""
    listing = "\n".join(f"{i.filename} {i.file_size} {i.CRC:08x}" for i in infos)
    return "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


def sidecar_digest(path: str) -> str:
    """The digest of the ``.npz`` file at ``path`` (its central directory only; a bad file is one line)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return digest_of(zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        raise LerganError(f"{path}: not an .npz archive (numpy.savez writes one)") from None


def sealed(text: str, digest: str) -> str:
    """The program text with its sidecar's digest on the model line (written after the sidecar)."""
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("model "))
    lines[at] = re.sub(r' sidecar="[^"]*"', "", lines[at]) + f' sidecar="{digest}"'
    return "\n".join(lines)


def npz_bytes(tensors: Mapping[str, np.ndarray]) -> bytes:
    """:func:`write_npz` into memory (small outputs; the compiler streams the sidecar to its file)."""
    buf = io.BytesIO()
    write_npz(buf, tensors)
    return buf.getvalue()


def _npy_header(data: dict[str, Any]) -> bytes:
    """The ``.npy`` header of ``npy.header_data_from_array_1_0``'s dict (as ``np.save`` writes it)."""
    buf = io.BytesIO()
    try:
        npy.write_array_header_1_0(buf, data)
    except ValueError:  # a header over 64 KiB
        buf = io.BytesIO()
        npy.write_array_header_2_0(buf, data)
    return buf.getvalue()


def _padding(start: int) -> bytes:
    """An extra field that moves data starting at ``start`` (before the field) to a multiple of ALIGN."""
    need = -start % ALIGN
    if need == 0:
        return b""
    if need < 4:  # the smallest field is its 4-byte id and length
        need += ALIGN
    return struct.pack("<HH", _PAD_ID, need - 4) + bytes(need - 4)


def _write_data(out: _Sink, arr: np.ndarray) -> None:
    """The data in the order the header states: C, or Fortran for an F-contiguous array (as numpy)."""
    if arr.flags.f_contiguous and not arr.flags.c_contiguous:
        arr = arr.T
    if arr.flags.c_contiguous or arr.ndim == 0:
        out.write(np.ascontiguousarray(arr).reshape(-1).data.cast("B"))
        return
    for part in arr:  # any other strides (a transposed view): one leading slice at a time
        out.write(np.ascontiguousarray(part).reshape(-1).data.cast("B"))


def read_npz(path: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file; anything else (missing, a directory, a bare ``.npy``, a member that
    is not a numeric array, a damaged one) is a one-line error.

    Members stored uncompressed are memory-mapped read-only (as ``np.load(..., mmap_mode="r")``: the
    arrays are not writable; copy one to change it); compressed ones (``np.savez_compressed``) are read."""
    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise LerganError(f"{path}: a .npy array, not an .npz archive of named arrays (numpy.savez writes one)")
            f.seek(0)
            try:
                zf = zipfile.ZipFile(f)
            except (zipfile.BadZipFile, ValueError, EOFError):
                raise LerganError(f"{path}: not an .npz archive (numpy.savez writes one)") from None
            with zf:
                infos = zf.infolist()
                view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if _mappable(infos) else None
                return {_key(path, i): _member(path, zf, f, view, i) for i in infos}
    except OSError as e:
        raise read_error(path, e) from None


_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def _key(path: str, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy") or info.is_dir():
        raise LerganError(f"{path}: member '{info.filename}' is not an array (.npy)")
    return info.filename[: -len(".npy")]


def _mappable(infos: list[zipfile.ZipInfo]) -> bool:
    return any(i.compress_type == zipfile.ZIP_STORED and i.file_size > mmap.PAGESIZE for i in infos)


def _member(path: str, zf: zipfile.ZipFile, f: IO[bytes], view: mmap.mmap | None,
            info: zipfile.ZipInfo) -> np.ndarray:
    key = info.filename[: -len(".npy")]
    try:
        with zf.open(info) as member:
            version = npy.read_magic(member)
            if version not in _HEADER_READERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = _HEADER_READERS[version](member)
            header = member.tell()
        _check_header(path, key, shape, dtype, info.file_size - header)
        if view is None or info.compress_type != zipfile.ZIP_STORED or info.file_size <= mmap.PAGESIZE:
            with zf.open(info) as member:
                return npy.read_array(member, allow_pickle=False)
        return _mapped(f, view, info, header, shape, fortran, dtype)
    except LerganError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, zlib.error, struct.error) as e:
        raise LerganError(f"{path}: array '{key}' is unreadable ({' '.join(str(e).split())[:120]})") from None


def _mapped(f: IO[bytes], view: mmap.mmap, info: zipfile.ZipInfo, header: int, shape: tuple[int, ...],
            fortran: bool, dtype: np.dtype) -> np.ndarray:
    """A stored member's array as a read-only view of the mapped file (its data start found from the
    member's local header)."""
    f.seek(info.header_offset)
    local = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if local[0] != b"PK\x03\x04":
        raise ValueError(f"bad local header of {info.filename}")
    offset = info.header_offset + _LOCAL_HEADER.size + local[-2] + local[-1] + header
    count = math.prod(shape)
    if offset + count * dtype.itemsize > len(view):
        raise ValueError(f"{info.filename}: data runs past the end of the file")
    return np.ndarray(shape, dtype, buffer=view, offset=offset, order="F" if fortran else "C")


def _check_header(path: str, key: str, shape: tuple[int, ...], dtype: np.dtype, stored: int) -> None:
    if dtype.kind not in "fiub" or dtype.fields is not None or dtype.subdtype is not None:
        raise LerganError(f"{path}: array '{key}' has dtype {dtype}, not numbers")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != stored:
        raise LerganError(f"{path}: array '{key}' is damaged (its header says {nbytes} bytes, it holds {stored})")
    limits.check_host_bytes(nbytes, f"{path}: array '{key}'")


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

"""The functional interpreter's state: buffers, crossbar contents, host registers.

Instructions become closures over a :class:`Machine` (:func:`lergan_cc.sim.instrs.compile_instr`).

Memory: a buffer is allocated when first written (never-used declarations cost nothing),
activations are kept channels-last in memory, crossbars programmed from a param hold the param
array itself (cut into the matrix when an MMV uses it, one cut shared by a kind's replicas),
and the driver drops what the program never reads again before overwriting it
(:mod:`lergan_cc.sim.liveness`).

Sample-parallel copies (``--data-parallel``): a gradient declared ``partials=K`` is K arrays, one per
shard of the batch; every accumulation into it (a weight-gradient MMV, ``bias_grad``, ``bn_grad``) adds
each shard's samples into that shard's partial, and only ``reduce`` sums them into the buffer the host's
update reads. Everything else is computed over the whole batch at once: the copies hold the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lergan_cc.fsm.copies import sharding_of
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.sidecar import release
from lergan_cc.fsm.values import Ref
from lergan_cc.shards import shard_ranges
from lergan_cc.sim import fast as F
from lergan_cc.sim.fixed import quantize

Step = Callable[["Machine"], None]


@dataclass
class Host:
    """What the host CPU holds: run-time inputs for this iteration, outputs, learning rate, loss choice, and
    what the tiles' random generators are seeded with (the run's seed and the training iteration)."""

    inputs: Callable[[str], np.ndarray]
    lr: float = 0.0002
    g_loss: str = "saturating"
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int = 0
    iteration: int = 0


@dataclass(frozen=True, eq=False)
class WeightCut:
    """Crossbars programmed from a param: the param array as written (the host replaces params, never
    changes one in place), cut into rows (taps, channel) when an MMV reads it."""

    param: np.ndarray
    layout: str
    taps: tuple[tuple[int, ...], ...]


class Buffers(dict[str, np.ndarray]):
    """name -> array; a buffer read before anything wrote it reads as zeros (allocated then)."""

    def __init__(self, alloc: Callable[[str], np.ndarray]) -> None:
        super().__init__()
        self.alloc = alloc

    def __missing__(self, name: str) -> np.ndarray:
        value = self.alloc(name)
        self[name] = value
        return value


@dataclass
class Machine:
    program: Program
    path: str
    params: dict[str, np.ndarray]
    host: Host
    mats: dict[str, np.ndarray | WeightCut] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    precision: str = "float32"
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.batch = self.program.batch
        self.version: dict[str, int] = {}
        self.hw = self.program.hardware(self.path) if self.fixed else None
        self.buffers = self.program.table("buffer")
        self.matrices = self.program.table("matrix")
        self.bufs = Buffers(self.alloc)
        self.layouts: dict[str, tuple[int, ...]] = {}  # buffer -> memory order chosen by its writers
        self.streams: dict[tuple[str, bool], tuple[int, np.ndarray]] = {}
        self.transposed: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        self.transposed_used: set[tuple[int, str]] = set()
        self.cut: tuple[WeightCut, np.ndarray] | None = None  # the last cut: a kind's replicas share it
        self.rows: tuple[tuple[Any, ...], np.ndarray] | None = None  # the last dy rows, likewise
        self.shards = {d.name: [slice(a, a + n) for a, n in shard_ranges(self.batch, k)]
                       for d in self.buffers.values() if "partials" in d.attrs
                       for k in [sharding_of(d.attrs).pieces] if k > 1}
        self.partials: dict[str, list[np.ndarray]] = {}  # a partials=K gradient's K partial sums

    def full_shape(self, name: str) -> tuple[int, ...]:
        d = self.buffers[name]
        return d.shape if d.attrs.get("role") == "grad" else (self.batch, *d.shape)

    def alloc(self, name: str) -> np.ndarray:
        """Zeros for ``name``: channels-last in memory for activations, as its writers want for others."""
        shape = self.full_shape(name)
        order = self.layouts.get(name)
        if order is None and self.buffers[name].attrs.get("role") != "grad" and len(shape) >= 3:
            order = F.channels_last_order(len(shape))
        return F.zeros(shape, order)

    def sums(self, name: str) -> list[tuple[np.ndarray, slice]]:
        """Where an accumulation into gradient ``name`` goes: (array, the samples it sums) — the buffer and
        the whole batch, or each shard's partial sum and that shard's samples."""
        if name not in self.shards:
            return [(self.bufs[name], slice(0, self.batch))]
        parts = self.partials.get(name)
        if parts is None:
            parts = self.partials[name] = [self.alloc(name) for _ in self.shards[name]]
        return list(zip(parts, self.shards[name], strict=True))

    def reduce(self, name: str) -> None:
        """The partial sums of ``name`` summed into its buffer (what the host's update reads)."""
        if name not in self.shards:
            raise ValueError(f"%{name} has no partial sums to reduce (declare it partials=K)")
        total = self.alloc(name)
        for part, _ in self.sums(name):
            total += part
        self.bufs[name] = total

    def zero(self, name: str) -> None:
        self.bufs[name] = self.alloc(name)
        self.partials.pop(name, None)

    def put(self, name: str, value: np.ndarray) -> None:
        want = self.full_shape(name)
        if value.shape != want:
            raise ValueError(f"result shape {list(value.shape)} does not fit %{name} {list(want)}")
        self.bufs[name] = value.astype(np.float32, copy=False)

    @property
    def fixed(self) -> bool:
        return self.precision == "fixed16"

    def quantize(self, x: np.ndarray, which: str) -> np.ndarray:
        """Round to the hardware's input/weight/output width under ``--precision fixed16``."""
        if not self.fixed:
            return x
        assert self.hw is not None
        return quantize(x, getattr(self.hw.precision, f"{which}_bits"))

    def streamed(self, name: str, zero_slot: bool) -> np.ndarray:
        """A buffer as the crossbars stream it: ``(B, positions [+ zero slot], C)`` (a view of a
        channels-last buffer; a copy, kept until the buffer changes, otherwise)."""
        stamp = self.version.get(name, 0)
        hit = self.streams.get((name, zero_slot))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        x, copied = F.channels_last(self.bufs[name], zero_slot)
        if self.fixed:
            x, copied = self.quantize(x, "input"), True
        if copied:
            self.streams[(name, zero_slot)] = (stamp, x)
        return x

    def weight_t(self, w: np.ndarray, layout: str) -> np.ndarray:
        """A param array as ``(K..., C, M)`` (kept while that array is the param's value)."""
        key = (id(w), layout)
        hit = self.transposed.get(key)
        if hit is None or hit[0] is not w:
            hit = (w, F.transposed_weight(w, layout))
            self.transposed[key] = hit
        self.transposed_used.add(key)
        return hit[1]

    def end_state(self) -> None:
        """Forget the transposed weights this state did not use (a phase's layouts are not the next
        phase's: keeping them all would hold a second copy of every weight)."""
        for key in [k for k in self.transposed if k not in self.transposed_used]:
            del self.transposed[key]
        self.transposed_used.clear()

    def matrix(self, name: str) -> np.ndarray:
        """What crossbars ``$name`` hold, as rows (taps, channel) x columns for an ungrouped matrix."""
        held = self.mats.get(name)
        if held is None:
            raise ValueError(f"${name} is read before any write programmed it")
        if not isinstance(held, WeightCut):
            return held
        if self.cut is not None and self.cut[0].param is held.param and self.cut[0].layout == held.layout \
                and self.cut[0].taps == held.taps:
            return self.cut[1]
        rows = self.quantize(F.weight_rows(self.weight_t(held.param, held.layout), [list(t) for t in held.taps]),
                             "weight")
        self.cut = (held, rows)
        return rows

    def replace_param(self, name: str, value: np.ndarray) -> None:
        """The host's update: the old array's transposed copies go (crossbars written from it keep it)."""
        old = self.params[name]
        self.params[name] = value
        for key in [k for k, v in self.transposed.items() if v[0] is old]:
            del self.transposed[key]
        release(old)  # a weight mapped from the sidecar: its pages leave this process's memory

    def drop(self, gone: Iterable[Ref]) -> None:
        """Forget buffers and matrices the program overwrites before it reads them again."""
        for r in gone:
            if r.kind == "buf":
                self.bufs.pop(r.name, None)
                self.partials.pop(r.name, None)
                self.streams.pop((r.name, False), None)
                self.streams.pop((r.name, True), None)
            elif r.kind == "mat":
                self.mats.pop(r.name, None)

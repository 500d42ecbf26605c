"""The compact copy operand: every copy of a matrix (replicas and sample-parallel shards) in one declaration,
how an instruction on a matrix spreads over its copies, and where a sharded buffer's samples live.

``matrix $G2.k6 [1, 4096, 512] class=Inside replicas=3 copies=6 crossbars=512 rs=32 cs=16 banks=[B1]
xbars=[<3584,512,6>]``: 6 copies (2 shards of 3 replicas), copy ``i = shard * replicas + replica`` at
crossbar ``xbars`` offset ``i`` of bank ``banks`` (a run of offsets per bank, in the bank's crossbar
numbering: tile = offset // crossbars_per_tile). A copy occupies ``crossbars`` crossbars from its
offset on (it may run on into the next tile), unless ``split`` lists it: ``split=[(5,89620,480,90112,32)]``
says copy 5 is two pieces, 480 crossbars at offset 89620 and 32 at 90112 (row slices in order; the placer
fills gaps a whole copy would not fit). A copy computes at the tile of its first piece.

An ``mmv`` on such a matrix runs, for every shard ``s`` (samples ``shard_ranges(batch, shards)[s]``),
its loop nest split among that shard's replicas by :func:`split_rect`; a ``write`` programs every copy.

``buffer %G2 [...] shards=6 home=$G2.k6``: shard ``s`` of the buffer's samples lives at the tile of
copy ``s * replicas`` of ``$G2.k6`` (or, with ``home=%X``, where shard ``s`` of buffer ``X`` lives);
``buffer %grad/... role=grad partials=6 home=...``: a gradient accumulated as 6 partial sums, one per
shard, summed by ``reduce``. Without ``shards``/``partials`` a buffer is one piece at its ``tile``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from lergan_cc.fsm.values import Prog, Ref, Sym, Value, Win

Pieces = tuple[tuple[int, int], ...]  # (offset in the bank, crossbars), in row-slice order


@dataclass(frozen=True)
class Copies:
    replicas: int
    shards: int
    crossbars: int
    places: tuple[tuple[str, int], ...]  # (bank, offset in the bank's crossbar numbering) per copy
    split: dict[int, Pieces] = field(default_factory=dict)  # copy -> its pieces, when more than one

    def pieces(self, i: int) -> Pieces:
        """Copy ``i``'s crossbar ranges, (offset, crossbars) in its bank, in row-slice order."""
        return self.split.get(i) or ((self.places[i][1], self.crossbars),)

    @property
    def count(self) -> int:
        return len(self.places)

    def index(self, shard: int, replica: int) -> int:
        return shard * self.replicas + replica

    def tile(self, i: int, per_tile: int) -> str:
        bank, offset = self.places[i]
        return f"{bank}.T{offset // per_tile}"

    def xbar(self, i: int, per_tile: int) -> int:
        return self.places[i][1] % per_tile


def copies_of(attrs: dict[str, Value]) -> Copies:
    """The copies a matrix declaration spells; ``ValueError`` when the operands do not fit together."""
    replicas, count, crossbars = (_positive(attrs, k) for k in ("replicas", "copies", "crossbars"))
    banks, runs = attrs.get("banks"), attrs.get("xbars")
    if not isinstance(banks, list) or not isinstance(runs, list) or len(banks) != len(runs) or not banks:
        raise ValueError("banks=[...] and xbars=[...] must be lists of the same length")
    places: list[tuple[str, int]] = []
    for bank, run in zip(banks, runs, strict=True):
        if not isinstance(bank, Sym) or not isinstance(run, Prog) or run.start < 0 or run.step < 1 or run.count < 1:
            raise ValueError("banks=[B...] and xbars=[<start,step,count>, ...] expected")
        places += zip(itertools.repeat(str(bank)), run.values())
    if len(places) != count:
        raise ValueError(f"{len(places)} placed copies for copies={count}")
    if count % replicas:
        raise ValueError(f"copies={count} is not a whole number of shards of replicas={replicas}")
    split = _pieces_of(attrs.get("split"), places, crossbars)
    return Copies(replicas, count // replicas, crossbars, tuple(places), split)


def _pieces_of(value: Value | None, places: list[tuple[str, int]], crossbars: int) -> dict[int, Pieces]:
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(t, tuple) and len(t) >= 5 and len(t) % 2 for t in value):
        raise ValueError("split=[(copy, offset, crossbars, offset, crossbars, ...), ...] expected")
    out: dict[int, Pieces] = {}
    for t in value:
        i, flat = t[0], t[1:]
        pieces = tuple(zip(flat[::2], flat[1::2], strict=True))
        if not 0 <= i < len(places) or i in out:
            raise ValueError(f"split: copy {i} is not a copy of this matrix or is listed twice")
        if pieces[0][0] != places[i][1] or any(n < 1 for _, n in pieces) or sum(n for _, n in pieces) != crossbars:
            raise ValueError(f"split: copy {i}'s pieces must start at its offset {places[i][1]} and hold its "
                             f"{crossbars} crossbars")
        out[i] = pieces
    return out


def spell_copies(replicas: int, crossbars: int, places: list[tuple[str, Pieces]]) -> dict[str, Value]:
    """The operands of :func:`copies_of` from each copy's bank and pieces: first offsets grouped into runs (an
    arithmetic progression per bank run), ``split`` for the copies of more than one piece."""
    banks: list[Value] = []
    runs: list[Value] = []
    for bank, group in itertools.groupby(places, key=lambda p: p[0]):
        offsets = [pieces[0][0] for _, pieces in group]
        for run in _progressions(offsets):
            banks.append(Sym(bank))
            runs.append(run)
    split: list[Value] = [(i, *itertools.chain.from_iterable(pieces)) for i, (_, pieces) in enumerate(places)
                          if len(pieces) > 1]
    return {"replicas": replicas, "copies": len(places), "crossbars": crossbars, "banks": banks, "xbars": runs,
            **({"split": split} if split else {})}


def _progressions(values: list[int]) -> list[Prog]:
    out: list[Prog] = []
    i = 0
    while i < len(values):
        step = values[i + 1] - values[i] if i + 1 < len(values) and values[i + 1] > values[i] else 1
        j = i + 1
        while j < len(values) and values[j] - values[j - 1] == step:
            j += 1
        out.append(Prog(values[i], step, j - i))
        i = j
    return out


def _positive(attrs: dict[str, Value], key: str) -> int:
    v = attrs.get(key)
    if type(v) is not int or v < 1:
        raise ValueError(f"{key}=N (N >= 1) is required")
    return v


# ---- an instruction's loop nest over a kind's replicas --------------------------------------------
@dataclass(frozen=True)
class Rect:
    """One loop nest: the result positions (per axis) and the affine operand window."""

    ranges: tuple[Prog, ...]
    wins: tuple[Win, ...]


def split_rect(rect: Rect, parts: int) -> list[Rect]:
    """Share a loop nest among at most ``parts`` replicas (rank 0: not split).

    The first axis is cut into ``min(parts, count)`` slices; when there are more replicas than
    positions on it, every slice is one position wide and its share of the replicas splits the next
    axis the same way — so an Inside kind of 15 × 15 positions with 225 replicas takes one round,
    not 15 (a split along the first axis alone would leave 210 of the copies idle).
    """
    return _split(rect, 0, parts) if rect.ranges else [rect]


def _split(rect: Rect, axis: int, parts: int) -> list[Rect]:
    if parts <= 1 or axis == len(rect.ranges):
        return [rect]
    count = rect.ranges[axis].count
    slices = min(parts, count)
    bounds = [count * i // slices for i in range(slices + 1)]
    out = []
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        share = parts // slices + (1 if i < parts % slices else 0)
        out += _split(_slice(rect, axis, lo, hi), axis + 1, share)
    return out


def _slice(rect: Rect, axis: int, lo: int, hi: int) -> Rect:
    """Positions ``lo`` ≤ j < ``hi`` of ``axis``, with the operand window shifted to match."""
    r, w = rect.ranges[axis], rect.wins[axis]
    ranges, wins = list(rect.ranges), list(rect.wins)
    ranges[axis] = Prog(r.start + r.step * lo, r.step, hi - lo)
    wins[axis] = Win(w.a, _shift(w.seq, w.a * lo))
    return Rect(tuple(ranges), tuple(wins))


def _shift(s: Prog | tuple[int, ...], by: int) -> Prog | tuple[int, ...]:
    return Prog(s.start + by, s.step, s.count) if isinstance(s, Prog) else tuple(v + by for v in s)


def replica_shapes(counts: tuple[int, ...], parts: int) -> list[tuple[int, ...]]:
    """The positions per axis of every share of ``split_rect`` (a nest of ``counts`` among ``parts``), in
    order, without building the shares."""
    return list(_shapes(counts, 0, parts)) if counts else [()]


_SHAPES: dict[tuple[tuple[int, ...], int, int], tuple[tuple[int, ...], ...]] = {}


def _shapes(counts: tuple[int, ...], axis: int, parts: int) -> tuple[tuple[int, ...], ...]:
    """``_split``'s shares' counts (memoised: equal slices split alike)."""
    key = (counts, axis, parts)
    got = _SHAPES.get(key)
    if got is None:
        if parts <= 1 or axis == len(counts):
            got = (counts,)
        else:
            out: list[tuple[int, ...]] = []
            for lo, hi, share in _cuts(counts[axis], parts):
                out += _shapes((*counts[:axis], hi - lo, *counts[axis + 1:]), axis + 1, share)
            got = tuple(out)
        _SHAPES[key] = got
    return got


def _cuts(count: int, parts: int) -> list[tuple[int, int, int]]:
    """``_split``'s slices of one axis: (first position, end, replicas sharing it)."""
    slices = min(parts, count)
    bounds = [count * i // slices for i in range(slices + 1)]
    return [(lo, hi, parts // slices + (1 if i < parts % slices else 0))
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))]


def replica_rect(rect: Rect, parts: int, index: int) -> Rect:
    """``split_rect(rect, parts)[index]``, built alone."""
    counts = tuple(p.count for p in rect.ranges)
    axis = 0
    while rect.ranges and parts > 1 and axis < len(counts):
        for lo, hi, share in _cuts(counts[axis], parts):
            sub = (*counts[:axis], hi - lo, *counts[axis + 1:])
            n = len(_shapes(sub, axis + 1, share))
            if index < n:
                rect, counts, parts = _slice(rect, axis, lo, hi), sub, share
                break
            index -= n
        else:
            raise IndexError("replica_rect: index out of range")
        axis += 1
    if index:
        raise IndexError("replica_rect: index out of range")
    return rect


def loop_nest(v: Value) -> list[Prog]:
    """An ``mmv``'s ``rect`` operand (checked by the assembler)."""
    assert isinstance(v, list) and all(isinstance(p, Prog) for p in v)
    return v


def replica_rects(ranges: list[Prog], wins: list[Win], replicas: int) -> list[Rect]:
    """The loop nests of an ``mmv``'s replicas (fewer than ``replicas`` when there are fewer positions)."""
    return split_rect(Rect(tuple(ranges), tuple(wins)), replicas)


# ---- sharded buffers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sharding:
    """``pieces`` shards (or gradient partials); their homes from ``home`` (a matrix or a buffer)."""

    pieces: int
    home: Ref | None


def sharding_of(attrs: dict[str, Value]) -> Sharding:
    for key in ("shards", "partials"):
        if key in attrs:
            n = attrs[key]
            home = attrs.get("home")
            if type(n) is not int or n < 1:
                raise ValueError(f"{key}=N (N >= 1) expected")
            if not isinstance(home, Ref) or home.kind not in ("mat", "buf"):
                raise ValueError(f"{key}={n} needs home=$matrix or home=%buffer")
            return Sharding(n, home)
    return Sharding(1, None)

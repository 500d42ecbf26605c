"""The compact copy operand: every copy of a matrix (replicas and sample-parallel shards) in one declaration,
how an instruction on a matrix spreads over its copies, and where a sharded buffer's samples live.

``matrix $G2.k6 [1, 4096, 512] class=Inside replicas=3 copies=6 crossbars=512 rs=32 cs=16 banks=[B1]
xbars=[<3584,512,6>]``: 6 copies (2 shards of 3 replicas), copy ``i = shard * replicas + replica`` at
crossbar ``xbars`` offset ``i`` of bank ``banks`` (a run of offsets per bank, in the bank's crossbar
numbering: tile = offset // crossbars_per_tile). A copy occupies ``crossbars`` crossbars from its
offset on (it may run on into the next tile).

An ``mmv`` on such a matrix runs, for every shard ``s`` (samples ``shard_ranges(batch, shards)[s]``),
its loop nest split among that shard's replicas by :func:`split_rect`; a ``write`` programs every copy.

``buffer %G2 [...] shards=6 home=$G2.k6``: shard ``s`` of the buffer's samples lives at the tile of
copy ``s * replicas`` of ``$G2.k6`` (or, with ``home=%X``, where shard ``s`` of buffer ``X`` lives);
``buffer %grad/... role=grad partials=6 home=...``: a gradient accumulated as 6 partial sums, one per
shard, summed by ``reduce``. Without ``shards``/``partials`` a buffer is one piece at its ``tile``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lergan_cc.fsm.values import Prog, Ref, Sym, Value, Win


@dataclass(frozen=True)
class Copies:
    replicas: int
    shards: int
    crossbars: int
    places: tuple[tuple[str, int], ...]  # (bank, offset in the bank's crossbar numbering) per copy

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
        places += [(str(bank), o) for o in run.values()]
    if len(places) != count:
        raise ValueError(f"{len(places)} placed copies for copies={count}")
    if count % replicas:
        raise ValueError(f"copies={count} is not a whole number of shards of replicas={replicas}")
    return Copies(replicas, count // replicas, crossbars, tuple(places))


def spell_copies(replicas: int, crossbars: int, places: list[tuple[str, int]]) -> dict[str, Value]:
    """The operands of :func:`copies_of`: offsets grouped into runs (an arithmetic progression per bank run)."""
    banks: list[Value] = []
    runs: list[Value] = []
    for bank, group in itertools.groupby(places, key=lambda p: p[0]):
        offsets = [o for _, o in group]
        for run in _progressions(offsets):
            banks.append(Sym(bank))
            runs.append(run)
    return {"replicas": replicas, "copies": len(places), "crossbars": crossbars, "banks": banks, "xbars": runs}


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

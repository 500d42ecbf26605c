"""Checks a parsed program against the ISA table and its own declarations.

Everything a program can get wrong before it runs: unknown instructions or operands,
missing operands, wrong types, values out of range (enumerators, banks, tiles,
crossbar indices), undeclared names, transitions to nowhere. One error, with its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields
from functools import cache, partial
from typing import Any, NoReturn, get_type_hints

import numpy as np

from lergan_cc.errors import SourceError, did_you_mean
from lergan_cc.fsm.copies import Copies, copies_of, sharding_of
from lergan_cc.fsm.isa import ISA, MODES, SWITCH_STATES, WIRES, Operand
from lergan_cc.fsm.program import Fold, Instr, Program, State
from lergan_cc.fsm.tables import fold_origins
from lergan_cc.fsm.values import Prog, Ref, Sym, Win
from lergan_cc.options import REPLICAS, TARGETS, ZERO_FREE
from lergan_cc.targets.hw import Hardware

BATCH_FROM = ("model", "option", "default")  # where the batch came from (an ONNX model's static one, --batch)
HW_REQUIRED = ("banks", "tiles_per_bank", "crossbars_per_tile", "crossbar.rows", "crossbar.cols")
MAX_DIM = 2**31 - 1  # any shape dimension, batch or loop count: sizes past it cannot be a model
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}\Z")
MODEL_ATTRS: dict[str, Callable[[Any], bool]] = {  # the model line's keys and what each may hold
    "batch": lambda v: type(v) is int and 1 <= v <= MAX_DIM, "batch_from": lambda v: v in BATCH_FROM,
    "zero_free": lambda v: v in ZERO_FREE, "target": lambda v: v in TARGETS, "replica": lambda v: v in REPLICAS,
    "sidecar": lambda v: type(v) is str and bool(_SHA256.match(v)),
}
_BANK = re.compile(r"B(\d{1,9})\Z")  # indices of at most 9 digits: anything longer is no bank, tile or node
_TILE = re.compile(r"B(\d{1,9})\.T(\d{1,9})\Z")
_NODE = re.compile(r"B(\d{1,9})\.(L\d{1,9}\.n\d{1,9}|T\d{1,9})\Z")


class _Ctx:
    def __init__(self, p: Program) -> None:
        self.hw: dict[str, Any] = dict(p.hw)  # its required keys are checked integers
        self.names = {kind: set(p.table(kind)) for kind in ("param", "buffer", "matrix")}
        self.buffers = p.table("buffer")

    def bank_ok(self, n: int) -> bool:
        return 1 <= n <= int(self.hw["banks"])

    def tile_ok(self, b: int, t: int) -> bool:
        return self.bank_ok(b) and 0 <= t < int(self.hw["tiles_per_bank"])


def _ref(kind: str, decl: str) -> Callable[[Any, _Ctx], str | None]:
    def check(v: Any, ctx: _Ctx) -> str | None:
        if not isinstance(v, Ref) or v.kind != kind:
            return f"expected a {decl} reference"
        return None if v.name in ctx.names[decl] else f"undeclared {decl} '{v.name}'"
    return check


def _any_ref(v: Any, ctx: _Ctx) -> str | None:
    if isinstance(v, Ref) and v.kind == "param":
        return _ref("param", "param")(v, ctx)
    return _ref("buf", "buffer")(v, ctx)


def _int(v: Any, ctx: _Ctx) -> str | None:
    return None if type(v) is int else "expected an integer"


def _flag(v: Any, ctx: _Ctx) -> str | None:
    return None if type(v) is int and v in (0, 1) else "expected 0 or 1"


def _float(v: Any, ctx: _Ctx) -> str | None:
    return None if type(v) in (int, float) else "expected a number"


def _str(v: Any, ctx: _Ctx) -> str | None:
    return None if type(v) is str else "expected a string"


def _ints(v: Any, ctx: _Ctx) -> str | None:
    return None if isinstance(v, list) and all(type(x) is int for x in v) else "expected a list of integers"


def _rect(v: Any, ctx: _Ctx) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, Prog) for x in v):
        return "expected a list of <start,step,count>"
    return None if all(x.start >= 0 and x.step >= 1 and x.count >= 1 for x in v) else \
        "loop bounds out of range (start >= 0, step >= 1, count >= 1)"


def _win(v: Any, ctx: _Ctx) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, Win) for x in v):
        return "expected a list of a j+seq"
    return None if all(_seq_ok(x.seq) for x in v) else f"sequence of more than {MAX_DIM} taps"


def _taps(v: Any, ctx: _Ctx) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, (Prog, tuple)) for x in v)
    if not ok:
        return "expected a list of sequences"
    return None if all(_seq_ok(x) for x in v) else f"sequence of more than {MAX_DIM} taps, or negative"


def _seq_ok(s: Prog | tuple[int, ...]) -> bool:
    return not isinstance(s, Prog) or 1 <= s.count <= MAX_DIM


def _bank(v: Any, ctx: _Ctx) -> str | None:
    m = _BANK.match(str(v)) if isinstance(v, Sym) else None
    return None if m and ctx.bank_ok(int(m[1])) else f"no bank {v} (banks B1..B{ctx.hw['banks']})"


def _tile(v: Any, ctx: _Ctx) -> str | None:
    m = _TILE.match(str(v)) if isinstance(v, Sym) else None
    if m and ctx.tile_ok(int(m[1]), int(m[2])):
        return None
    return f"no tile {v} (B1..B{ctx.hw['banks']}, T0..T{int(ctx.hw['tiles_per_bank']) - 1})"


def _node(v: Any, ctx: _Ctx) -> str | None:
    """``B2.L1.n0`` (level < depth, index < 2^level) or a tile ``B2.T5``, of a bank that exists."""
    m = _NODE.match(str(v)) if isinstance(v, Sym) else None
    if m and ctx.bank_ok(int(m[1])):
        tiles = int(ctx.hw["tiles_per_bank"])
        if m[2].startswith("T"):
            ok = int(m[2][1:]) < tiles
        else:
            level, index = (int(x) for x in m[2][1:].split(".n"))
            ok = level < tiles.bit_length() - 1 and index < 2**level
        if ok:
            return None
    return f"no node {v} (B1..B{ctx.hw['banks']}: tiles B1.T0.., routing nodes B1.L0.n0 ..)"


def _strides(v: Any, ctx: _Ctx) -> str | None:
    ok = isinstance(v, list) and all(type(x) is int and 1 <= x <= MAX_DIM for x in v)
    return None if ok else "expected a list of positive integers"


def _route(v: Any, ctx: _Ctx) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, Sym) and x in WIRES for x in v)
    return None if ok else f"expected a list of wire kinds ({', '.join(WIRES)})"


CHECKERS: dict[str, Callable[[Any, _Ctx], str | None]] = {
    "buf": _ref("buf", "buffer"), "param": _ref("param", "param"), "mat": _ref("mat", "matrix"), "ref": _any_ref,
    "int": _int, "flag": _flag, "float": _float, "str": _str, "ints": _ints, "rect": _rect, "win": _win,
    "taps": _taps, "bank": _bank, "tile": _tile, "node": _node, "route": _route, "strides": _strides,
}


def _operand(o: Operand, v: Any, ctx: _Ctx) -> str | None:
    if o.type == "enum":
        return None if isinstance(v, Sym) and v in o.choices else f"expected one of {', '.join(o.choices)}"
    return CHECKERS[o.type](v, ctx)


@cache
def hw_keys() -> tuple[str, ...]:
    """The keys of a program's ``hw`` line: the derived sizes, then every ``section.key`` of the description."""
    sections = get_type_hints(Hardware)
    return HW_REQUIRED[:3] + tuple(f"{name}.{f.name}" for name, cls in sections.items() for f in fields(cls))


def check_program(p: Program, path: str) -> None:
    def fail(line: int, column: int, msg: str) -> NoReturn:
        raise SourceError(path, line, column, msg)

    if p.kind not in ("net", "gan"):
        fail(2, 1, f"model kind '{p.kind}' is not net or gan")
    if "batch" not in p.attrs:
        fail(2, 1, f"model line: batch=N (1 <= N <= {MAX_DIM}) is required")
    for key, value in p.attrs.items():
        if key not in MODEL_ATTRS:
            fail(2, 1, f"model line: unknown key '{key}'{did_you_mean(key, MODEL_ATTRS)}")
        if not MODEL_ATTRS[key](value):
            fail(2, 1, f"model line: bad value {key}={str(value)[:40]}" + (f" (1 <= batch <= {MAX_DIM})"
                                                                           if key == "batch" else ""))
    missing = [k for k in HW_REQUIRED if not _dim(p.hw.get(k))]
    if missing:
        fail(3, 1, f"hw line: missing or bad {', '.join(missing)}")
    known = hw_keys()
    for key in p.hw:
        if key not in known:
            fail(3, 1, f"hw line: unknown key '{key}'{did_you_mean(key, known)}")
    ctx = _Ctx(p)
    seen: set[tuple[str, str]] = set()
    used = _Crossbars()
    placed: dict[str, Copies] = {}  # each matrix's copies, read once
    for d in p.decls:
        if (d.kind, d.name) in seen:
            fail(d.line, d.column, f"{d.kind} '{d.name}' declared twice")
        seen.add((d.kind, d.name))
        if d.kind == "matrix" and len(d.shape) != 3:
            fail(d.line, d.column, f"matrix '{d.name}': shape {list(d.shape)} is not [groups, rows, columns]")
        if any(not 1 <= n <= MAX_DIM for n in d.shape):
            fail(d.line, d.column, f"{d.kind} '{d.name}': shape {list(d.shape)} has a dimension out of range "
                                   f"(1 .. {MAX_DIM})")
        if "bank" in d.attrs and (msg := _bank(d.attrs["bank"], ctx)):
            fail(d.line, d.column, msg)
        if d.kind == "matrix":
            try:
                copies = placed[d.name] = copies_of(d.attrs)
            except ValueError as e:
                fail(d.line, d.column, f"matrix copies: {e}")
            _check_placement(copies, ctx, partial(fail, d.line, d.column))
            used.claim(d, copies)
        elif "tile" in d.attrs and (msg := _tile(d.attrs["tile"], ctx)):
            fail(d.line, d.column, msg)
    if (clash := used.clash()) is not None:
        fail(clash[0].line, clash[0].column, clash[1])
    for d in p.decls:
        if d.kind == "buffer" and (msg := _check_sharding(d, p, placed)):
            fail(d.line, d.column, msg)
    states = {s.name for s in p.states}
    if len(states) != len(p.states):
        fail(p.states[-1].line, 1, "duplicate state name")
    if not p.states:
        fail(1, 1, "a program needs at least one state")
    for s in p.states:
        for bank, mode in s.modes.items():
            if _bank(Sym(bank), ctx) or mode not in MODES:
                fail(s.line, s.column, f"state {s.name}: bad mode {bank}={mode}")
        for node, st in s.switches.items():
            if _node(Sym(node), ctx) or st not in SWITCH_STATES:
                fail(s.line, s.column, f"state {s.name}: bad switch {node}={st}")
        origins = fold_origins(s)
        for n, ins in enumerate(s.body):
            _check_instr(ins, ctx, _at(ins, origins.get(n), fail))
        t = s.transition
        if t.target is not None and t.target not in states:
            fail(t.line, t.column, f"transition to unknown state '{t.target}'")
    _check_terminates(p, fail)
    _check_kind(p, fail)


def _check_terminates(p: Program, fail: Callable[[int, int, str], None]) -> None:
    """Every state reaches ``halt`` or ``iterate`` by its gotos: a goto cycle would run forever."""
    by_name = {s.name: s for s in p.states}
    ends: set[str] = set()
    for start in p.states:
        path: list[State] = []
        state = start
        while state.transition.kind == "goto" and state.name not in ends:
            if state in path:
                cycle = [s.name for s in path[path.index(state):]] + [state.name]
                t = path[-1].transition
                fail(t.line, t.column, f"state {start.name} never reaches halt or iterate: goto cycle "
                                       f"{' -> '.join(cycle)}")
            path.append(state)
            state = by_name[str(state.transition.target)]
        ends.update(s.name for s in path)


def _check_kind(p: Program, fail: Callable[[int, int, str], None]) -> None:
    """A ``gan`` program trains: it ends an iteration with ``iterate``; a ``net`` program never does."""
    iterates = [s.transition for s in p.states if s.transition.kind == "iterate"]
    if p.kind == "gan" and not iterates:
        fail(2, 1, "model line says gan, but no state ends a training iteration (iterate): a net program?")
    if p.kind == "net" and iterates:
        fail(iterates[0].line, iterates[0].column, "iterate in a net program (only a gan program trains)")


def _dim(v: Any) -> bool:
    return type(v) is int and 1 <= v <= MAX_DIM


def _check_placement(copies: Copies, ctx: _Ctx, fail: Callable[[str], None]) -> None:
    """Every copy in an existing bank, its crossbars inside the bank (a copy may run on into the next tile)."""
    room = int(ctx.hw["crossbars_per_tile"]) * int(ctx.hw["tiles_per_bank"])
    if not copies.split and all(_bank(Sym(b), ctx) is None for b in {b for b, _ in copies.places}) and \
            min(o for _, o in copies.places) >= 0 and max(o for _, o in copies.places) + copies.crossbars <= room:
        return  # every copy one run of crossbars, all of them inside their banks: what the loop below finds
    for i, (bank, _) in enumerate(copies.places):
        if (msg := _bank(Sym(bank), ctx)) is not None:
            fail(msg)
        for offset, n in copies.pieces(i):
            if offset < 0 or offset + n > room:
                fail(f"crossbars {offset}+{n} out of range (a bank has {room})")


class _Crossbars:
    """The crossbars every matrix declaration occupies, per bank: two copies never share a crossbar."""

    def __init__(self) -> None:
        self.decls: list[Any] = []
        self.ranges: dict[str, tuple[list[int], list[int], list[int]]] = {}  # bank -> (firsts, ends, decl numbers)

    def claim(self, decl: Any, copies: Copies) -> None:
        k = len(self.decls)
        self.decls.append(decl)
        ranges = self.ranges
        for i, (bank, offset) in enumerate(copies.places):
            got = ranges.get(bank)
            if got is None:
                got = ranges[bank] = ([], [], [])
            if copies.split:
                for o, n in copies.pieces(i):
                    got[0].append(o)
                    got[1].append(o + n)
                    got[2].append(k)
            else:
                got[0].append(offset)
                got[1].append(offset + copies.crossbars)
                got[2].append(k)

    def clash(self) -> tuple[Any, str] | None:
        """The later of two declarations whose crossbars overlap, and the message, or None (per bank, the
        first overlap of neighbours in order of first crossbar, then end, then claim)."""
        for bank, (firsts, ends, decls) in self.ranges.items():
            lo, hi = np.array(firsts, dtype=np.int64), np.array(ends, dtype=np.int64)
            order = np.lexsort((hi, lo))
            over = np.flatnonzero(lo[order][1:] < hi[order][:-1])
            if len(over):
                k = int(over[0])
                a, b = self.decls[decls[order[k]]], self.decls[decls[order[k + 1]]]
                later = max(a, b, key=lambda d: d.line)
                return later, f"crossbar {int(lo[order[k + 1]])} of bank {bank} is held by both ${a.name} and ${b.name}"
        return None


def _check_sharding(d: Any, p: Program, placed: dict[str, Copies]) -> str | None:
    """A sharded buffer's home names a matrix or buffer with as many pieces, without a cycle of homes."""
    try:
        pieces = sharding_of(d.attrs).pieces
        seen = {d.name}
        home = sharding_of(d.attrs).home
        while home is not None and home.kind == "buf":
            target = p.table("buffer").get(home.name)
            if target is None or home.name in seen:
                return f"buffer {d.name}: home %{home.name} is {'undeclared' if target is None else 'a cycle'}"
            seen.add(home.name)
            if sharding_of(target.attrs).pieces != pieces:
                return f"buffer {d.name}: {pieces} pieces, its home %{home.name} has {sharding_of(target.attrs).pieces}"
            home = sharding_of(target.attrs).home
        if home is not None:
            if home.name not in placed:
                return f"buffer {d.name}: home ${home.name} is undeclared"
            shards = placed[home.name].shards
            if shards != pieces:
                return f"buffer {d.name}: {pieces} pieces, its home ${home.name} has {shards} shards"
        batch = p.attrs.get("batch")
        if d.attrs.get("role") != "grad" and type(batch) is int and pieces > batch:
            return f"buffer {d.name}: {pieces} shards of a batch of {batch}"
    except ValueError as e:
        return f"buffer {d.name}: {e}"
    return None


Fail = Callable[[str | None, str], None]  # (the operand the error is about, or None; the message)


def _at(ins: Instr, fold: Fold | None, fail: Callable[[int, int, str], None]) -> Fail:
    """Where an instruction's error is: at its line; for a row of a table line, at the line when the
    operand is the line's own (or the error is about no operand), else at the row, naming the line."""
    if fold is None:
        return lambda key, msg: fail(ins.line, ins.column, msg)

    def at(key: str | None, msg: str) -> None:
        if key is None or key in fold.operands:
            fail(fold.line, fold.column, f"{msg} (table &{fold.table}, row at line {ins.line})")
        fail(ins.line, ins.column, f"{msg} (table &{fold.table}, used at line {fold.line})")
    return at


def _check_instr(ins: Instr, ctx: _Ctx, fail: Fail) -> None:
    code = ISA.get(ins.op)
    if code is None:
        fail(None, f"unknown instruction '{ins.op}'")
        return
    known = {o.name: o for o in code.operands}
    for key in ins.operands:
        if key not in known:
            fail(key, f"{ins.op}: unknown operand '{key}'")
    for o in code.operands:
        if o.name not in ins.operands:
            if not o.optional:
                fail(None, f"{ins.op}: missing operand '{o.name}'")
            continue
        msg = _operand(o, ins.operands[o.name], ctx)
        if msg:
            fail(o.name, f"{ins.op} {o.name}: {msg}")
    if ins.op == "mmv":
        _check_loop_nest(ins, ctx, fail)


def _check_loop_nest(ins: Any, ctx: _Ctx, fail: Fail) -> None:
    """An mmv's loop nest writes inside its destination (so loop counts are bounded by buffer sizes)."""
    dst, rect = ctx.buffers[ins.operands["dst"].name], ins.operands["rect"]
    spatial = dst.shape[2:] if dst.attrs.get("role") == "grad" else dst.shape[1:]
    if len(rect) != len(spatial) or len(ins.operands["win"]) != len(rect):
        fail("rect", f"mmv: rect/win of rank {len(rect)} do not fit %{dst.name} {list(dst.shape)}")
    for p, n in zip(rect, spatial, strict=True):
        if p.start + p.step * (p.count - 1) >= n:
            fail("rect", f"mmv rect: loop nest writes outside %{dst.name} {list(dst.shape)}")

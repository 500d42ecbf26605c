"""Checks a parsed program against the ISA table and its own declarations.

Everything a program can get wrong before it runs: unknown instructions or operands,
missing operands, wrong types, values out of range (enumerators, banks, tiles,
crossbar indices), undeclared names, transitions to nowhere. One error, with its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lergan_cc.errors import SourceError
from lergan_cc.fsm.copies import copies_of, sharding_of
from lergan_cc.fsm.isa import ISA, MODES, SWITCH_STATES, WIRES, Operand
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.values import Prog, Ref, Sym, Win

HW_REQUIRED = ("banks", "tiles_per_bank", "crossbars_per_tile", "crossbar.rows", "crossbar.cols")
_BANK = re.compile(r"B(\d+)\Z")
_TILE = re.compile(r"B(\d+)\.T(\d+)\Z")
_NODE = re.compile(r"B(\d+)\.(L\d+\.n\d+|T\d+)\Z")


class _Ctx:
    def __init__(self, p: Program) -> None:
        self.hw = p.hw
        self.names = {kind: set(p.table(kind)) for kind in ("param", "buffer", "matrix")}

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
    return None if isinstance(v, list) and all(isinstance(x, Win) for x in v) else "expected a list of a j+seq"


def _taps(v: Any, ctx: _Ctx) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, (Prog, tuple)) for x in v)
    return None if ok else "expected a list of sequences"


def _bank(v: Any, ctx: _Ctx) -> str | None:
    m = _BANK.match(str(v)) if isinstance(v, Sym) else None
    return None if m and ctx.bank_ok(int(m[1])) else f"no bank {v} (banks B1..B{ctx.hw['banks']})"


def _tile(v: Any, ctx: _Ctx) -> str | None:
    m = _TILE.match(str(v)) if isinstance(v, Sym) else None
    if m and ctx.tile_ok(int(m[1]), int(m[2])):
        return None
    return f"no tile {v} (B1..B{ctx.hw['banks']}, T0..T{int(ctx.hw['tiles_per_bank']) - 1})"


def _node(v: Any, ctx: _Ctx) -> str | None:
    m = _NODE.match(str(v)) if isinstance(v, Sym) else None
    return None if m and ctx.bank_ok(int(m[1])) else f"no node {v}"


def _route(v: Any, ctx: _Ctx) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, Sym) and x in WIRES for x in v)
    return None if ok else f"expected a list of wire kinds ({', '.join(WIRES)})"


CHECKERS: dict[str, Callable[[Any, _Ctx], str | None]] = {
    "buf": _ref("buf", "buffer"), "param": _ref("param", "param"), "mat": _ref("mat", "matrix"), "ref": _any_ref,
    "int": _int, "flag": _flag, "float": _float, "str": _str, "ints": _ints, "rect": _rect, "win": _win,
    "taps": _taps, "bank": _bank, "tile": _tile, "node": _node, "route": _route,
}


def _operand(o: Operand, v: Any, ctx: _Ctx) -> str | None:
    if o.type == "enum":
        return None if isinstance(v, Sym) and v in o.choices else f"expected one of {', '.join(o.choices)}"
    return CHECKERS[o.type](v, ctx)


def check_program(p: Program, path: str) -> None:
    def fail(line: int, column: int, msg: str) -> None:
        raise SourceError(path, line, column, msg)

    if p.kind not in ("net", "gan"):
        fail(2, 1, f"model kind '{p.kind}' is not net or gan")
    if type(p.attrs.get("batch")) is not int or p.attrs["batch"] < 1:
        fail(2, 1, "model line: batch=N (N >= 1) is required")
    missing = [k for k in HW_REQUIRED if type(p.hw.get(k)) is not int or p.hw[k] < 1]
    if missing:
        fail(3, 1, f"hw line: missing or bad {', '.join(missing)}")
    ctx = _Ctx(p)
    seen: set[tuple[str, str]] = set()
    for d in p.decls:
        if (d.kind, d.name) in seen:
            fail(d.line, d.column, f"{d.kind} '{d.name}' declared twice")
        seen.add((d.kind, d.name))
        if d.kind == "matrix":
            _check_placement(d.attrs, ctx, lambda msg, d=d: fail(d.line, d.column, msg))
        elif "tile" in d.attrs and (msg := _tile(d.attrs["tile"], ctx)):
            fail(d.line, d.column, msg)
    for d in p.decls:
        if d.kind == "buffer" and (msg := _check_sharding(d, p)):
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
        for ins in s.body:
            _check_instr(ins, ctx, fail)
        t = s.transition
        if t.target is not None and t.target not in states:
            fail(t.line, t.column, f"transition to unknown state '{t.target}'")


def _check_placement(attrs: dict[str, Any], ctx: _Ctx, fail: Callable[[str], None]) -> None:
    """Every copy in an existing bank, its crossbars inside the bank (a copy may run on into the next tile)."""
    try:
        copies = copies_of(attrs)
    except ValueError as e:
        fail(f"matrix copies: {e}")
        return
    room = int(ctx.hw["crossbars_per_tile"]) * int(ctx.hw["tiles_per_bank"])
    for bank, offset in copies.places:
        if (msg := _bank(Sym(bank), ctx)) is not None:
            fail(msg)
        if offset + copies.crossbars > room:
            fail(f"crossbars {offset}+{copies.crossbars} out of range (a bank has {room})")


def _check_sharding(d: Any, p: Program) -> str | None:
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
            mat = p.table("matrix").get(home.name)
            if mat is None:
                return f"buffer {d.name}: home ${home.name} is undeclared"
            shards = copies_of(mat.attrs).shards
            if shards != pieces:
                return f"buffer {d.name}: {pieces} pieces, its home ${home.name} has {shards} shards"
        batch = p.attrs.get("batch")
        if d.attrs.get("role") != "grad" and type(batch) is int and pieces > batch:
            return f"buffer {d.name}: {pieces} shards of a batch of {batch}"
    except ValueError as e:
        return f"buffer {d.name}: {e}"
    return None


def _check_instr(ins: Any, ctx: _Ctx, fail: Callable[[int, int, str], None]) -> None:
    code = ISA.get(ins.op)
    if code is None:
        fail(ins.line, ins.column, f"unknown instruction '{ins.op}'")
        return
    known = {o.name: o for o in code.operands}
    for key in ins.operands:
        if key not in known:
            fail(ins.line, ins.column, f"{ins.op}: unknown operand '{key}'")
    for o in code.operands:
        if o.name not in ins.operands:
            if not o.optional:
                fail(ins.line, ins.column, f"{ins.op}: missing operand '{o.name}'")
            continue
        msg = _operand(o, ins.operands[o.name], ctx)
        if msg:
            fail(ins.line, ins.column, f"{ins.op} {o.name}: {msg}")

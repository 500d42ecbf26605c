"""A hand-written reader of FSM text: one regular-expression lexer per line and a recursive descent over
the tokens, for the programs the compiler writes (hundreds of thousands of tokens).

``grammar/fsm.lark`` stays the definition of the language: this reader accepts a subset of it (the
tokens are the grammar's terminals; whatever it does not recognise, and every number, operand or
transition its builder would refuse, makes it give up) and, when it accepts a text, builds the very
:class:`Program` the LALR parser builds (``tests/test_fsm_lines.py`` checks that on every example and
on hypothesis-drawn programs). When it gives up, :func:`lergan_cc.fsm.asm.parse_fsm` parses the text
again with the LALR parser, which gives the error and its position. Instruction tables are read as items
and expanded by the same :func:`lergan_cc.fsm.tables.resolve` as the LALR parser's (a table error: give up).
"""

from __future__ import annotations

import json
import re
from typing import Any

from lergan_cc.errors import SourceError
from lergan_cc.fsm.program import Decl, Instr, Program, State, Table, Transition
from lergan_cc.fsm.tables import resolve
from lergan_cc.fsm.values import SIGIL_KIND, Prog, Ref, Sym, Win
from lergan_cc.limits import to_float, to_int


class GiveUp(Exception):
    """The text is not in the subset read here (the LALR parser decides what it is)."""


_STRING = r'"(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})|[^"\\\x00-\x1f])*"'
# The grammar's terminals (a FLOAT before an INT: lark's lexer tries the longer pattern first): string, ref,
# float, int, word, punctuation, comment. A token's first character says which it is.
_TOKEN = re.compile(r'(?:' + _STRING + r'|[%@$&](?:[A-Za-z0-9_][A-Za-z0-9_./\-]*|' + _STRING + r')'
                    r'|-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)|-?\d+|[A-Za-z_][A-Za-z0-9_.]*'
                    r'|[\[\](),<>=+{}]|#.*)')
_BLANK = re.compile(r"[\t ]*(?:#.*)?\Z")
_HEADER = re.compile(r"[\t ]*lergan-fsm[\t ]+(-?\d+)[\t ]*(?:#.*)?\Z")
_WORD0 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUM0 = frozenset("-0123456789")
DECLS = ("param", "buffer", "matrix")
DECL_SIGIL = {"param": "@", "buffer": "%", "matrix": "$"}
TRANSITIONS = ("goto", "iterate", "halt")


def _tokens(line: str) -> list[str]:
    """The tokens of a line, comments dropped; a character no token covers: give up."""
    toks = _TOKEN.findall(line)
    joined = "".join(toks)  # the tokens are disjoint pieces of the line: equal non-blank counts = all covered
    if len(joined) - joined.count(" ") - joined.count("\t") != len(line) - line.count(" ") - line.count("\t"):
        raise GiveUp
    if joined.find("#") >= 0:  # a comment (or a '#' inside a string token)
        toks = next((toks[:k] for k, t in enumerate(toks) if t[0] == "#"), toks)
    return toks


def _unref(text: str) -> Ref:
    body = text[1:]
    return Ref(SIGIL_KIND[text[0]], json.loads(body) if body.startswith('"') else body)


def _int(text: str) -> int:
    if text[0] not in _NUM0 or "." in text or "e" in text or "E" in text:
        raise GiveUp
    if len(text) < 19:
        return int(text)
    try:
        return to_int(text)
    except ValueError:
        raise GiveUp from None


def _word(text: str) -> str:
    if text[0] not in _WORD0:
        raise GiveUp
    return text


class _Line:
    """The tokens of one line and a cursor."""

    __slots__ = ("i", "toks")

    def __init__(self, toks: list[str]) -> None:
        self.toks = toks
        self.i = 1  # after the line's first word

    def take(self, text: str) -> None:
        if self.toks[self.i] != text:
            raise GiveUp
        self.i += 1

    def next(self) -> str:
        t = self.toks[self.i]
        self.i += 1
        return t

    def ints(self, close: str) -> tuple[int, ...]:
        """``INT ("," INT)*`` (or nothing) up to ``close``."""
        toks = self.toks
        if toks[self.i] == close:
            self.i += 1
            return ()
        out: list[int] = []
        while True:
            out.append(_int(toks[self.i]))
            sep = toks[self.i + 1]
            self.i += 2
            if sep == close:
                return tuple(out)
            if sep != ",":
                raise GiveUp

    def value(self) -> Any:
        toks = self.toks
        t = toks[self.i]
        self.i += 1
        c = t[0]
        if c in _NUM0:
            if "." in t or "e" in t or "E" in t:
                try:
                    return to_float(t)
                except ValueError:
                    raise GiveUp from None
            if self.i < len(toks) and toks[self.i] == "j":  # a Win
                self.i += 1
                self.take("+")
                opener = self.next()
                if opener == "<":
                    return Win(_int(t), self.prog())
                if opener == "(":
                    return Win(_int(t), self.ints(")"))
                raise GiveUp
            return _int(t)
        if c in _WORD0:
            return Sym(t)
        if c in "%@$&":
            return _unref(t)
        if c == '"':
            return json.loads(t)
        if t == "[":
            items: list[Any] = []
            if toks[self.i] == "]":
                self.i += 1
                return items
            while True:
                items.append(self.value())
                close = self.next()
                if close == "]":
                    return items
                if close != ",":
                    raise GiveUp
        if t == "<":
            return self.prog()
        if t == "(":
            return self.ints(")")
        raise GiveUp

    def prog(self) -> Prog:
        toks, i = self.toks, self.i
        if toks[i + 1] != "," or toks[i + 3] != "," or toks[i + 5] != ">":
            raise GiveUp
        self.i = i + 6
        return Prog(_int(toks[i]), _int(toks[i + 2]), _int(toks[i + 4]))

    def pairs(self) -> dict[str, Any]:
        """``pair*`` from the cursor to the end of the line (a repeated key: give up)."""
        out: dict[str, Any] = {}
        toks, n = self.toks, len(self.toks)
        while self.i < n:
            key = toks[self.i]
            if key[0] not in _WORD0 or toks[self.i + 1] != "=" or key in out:
                raise GiveUp
            self.i += 2
            out[key] = self.value()
        return out

    def end(self) -> None:
        if self.i != len(self.toks):
            raise GiveUp


def parse_lines(text: str) -> Program:
    """The program of ``text``, or :class:`GiveUp`."""
    try:
        return _parse(text)
    except IndexError:  # a line ended where a token was wanted
        raise GiveUp from None


def _parse(text: str) -> Program:
    lines = text.split("\n")
    n = len(lines)
    i = 0
    version: int | None = None
    model: tuple[str, str, dict[str, Any]] | None = None
    hw: dict[str, Any] | None = None
    decls: list[Decl] = []
    states: list[State] = []
    tables: list[Table] = []
    state: State | None = None
    table: Table | None = None
    transition: Transition | None = None
    while i < n:
        line = lines[i]
        i += 1
        if i < n and line.endswith("\r"):  # "\r\n" ends a line; a "\r" elsewhere is the LALR parser's
            line = line[:-1]
        if _BLANK.match(line):
            continue
        if version is None:
            m = _HEADER.match(line)
            if m is None:
                raise GiveUp
            version = _int(m[1])
            continue
        toks = _tokens(line)
        first = toks[0]
        col = len(line) - len(line.lstrip("\t ")) + 1
        cur = _Line(toks)
        if table is not None:  # inside a table: a row (``pair+``), or "}"
            if first == "}":
                cur.end()
                tables.append(table)
                table = None
                continue
            cur.i = 0  # a row is pairs from its first token
            table.rows.append(cur.pairs())
            table.places.append((i, col))
            continue
        if state is not None:  # inside a state: an item, or "}"
            if first == "}":
                cur.end()
                if transition is None:
                    raise GiveUp
                state.transition = transition
                states.append(state)
                state = transition = None
                continue
            if first[0] not in _WORD0 or transition is not None:  # nothing may follow the transition
                raise GiveUp
            if first in TRANSITIONS:
                target = None if first == "halt" else _word(cur.next())
                cur.end()
                transition = Transition(first, target, i, col)
            elif first == "mode":
                state.modes.update(cur.pairs())
            elif first == "switch":
                state.switches.update(cur.pairs())
            else:
                state.body.append(Instr(first, cur.pairs(), i, col))
            continue
        if first in DECLS:
            ref = cur.next()
            if ref[0] != DECL_SIGIL[first]:
                raise GiveUp
            cur.take("[")
            shape = cur.ints("]")
            decls.append(Decl(first, _unref(ref).name, shape, cur.pairs(), i, col))
        elif first == "table":
            ref = cur.next()
            if ref[0] != "&":
                raise GiveUp
            op = _word(cur.next())
            cur.take("{")
            cur.end()
            table = Table(_unref(ref).name, op, [], i, col)
        elif first == "state":
            name = _word(cur.next())
            cur.take("{")
            cur.end()
            state = State(name, line=i, column=col)
        elif first == "model":
            name = cur.next()
            if name[0] != '"':
                raise GiveUp
            kind = _word(cur.next())
            attrs = cur.pairs()
            if model is None:
                model = (json.loads(name), kind, attrs)
        elif first == "hw":
            pairs = cur.pairs()
            if hw is None:
                hw = pairs
        else:
            raise GiveUp
    if version is None or state is not None or table is not None or model is None:
        raise GiveUp
    p = Program(model[0], model[1], model[2], hw or {}, version=version)
    p.decls = decls
    p.states = states
    p.tables = tables
    try:
        resolve(p, "<fsm>")
    except SourceError:  # the LALR parser says it, with the file's name
        raise GiveUp from None
    return p

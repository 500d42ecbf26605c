"""The assembler: FSM text -> typed :class:`Program`, every error at file:line:column.

Parsing builds the records: the line reader of :mod:`lergan_cc.fsm.lines` (a subset of the grammar,
several times faster), else ``grammar/fsm.lark``'s LALR parser, the definition; :mod:`lergan_cc.fsm.check`
then checks them against the ISA table and the declarations.
"""

from __future__ import annotations

import builtins
import json
from functools import cache
from importlib import resources
from typing import Any, cast

from lergan_cc.errors import SourceError
from lergan_cc.fsm.lines import GiveUp, parse_lines
from lergan_cc.fsm.program import FSM_VERSION, READ_VERSIONS, Decl, Instr, Program, State, Table, Transition
from lergan_cc.fsm.tables import resolve
from lergan_cc.fsm.values import SIGIL_KIND, Prog, Ref, Sym, Win
from lergan_cc.limits import to_float, to_int


class _Parser:
    """The LALR parser with the builder applied as it reduces (no parse tree is built: half the time
    of a tree and a transform on the 6 MB programs of high-replica designs)."""

    def __init__(self) -> None:
        import lark  # here: a program the line reader reads loads no lark (13 ms of a lergan-sim start-up)

        text = resources.files("lergan_cc.grammar").joinpath("fsm.lark").read_text()
        self.builder = _Builder("<fsm>")
        # No propagate_positions: every rule that reports a position starts with a token (its
        # keyword kept with `!` where it has one), and tokens carry their line and column.
        # cache: lark keeps the LALR tables in a temporary file (20 ms of every start-up otherwise)
        self.lark = lark.Lark(text, parser="lalr", maybe_placeholders=False, transformer=self.builder, cache=True)

    def parse(self, text: str, path: str) -> Program:
        self.builder.path = path
        return cast(Program, self.lark.parse(text))  # the transformer's start() builds it


@cache
def _parser() -> _Parser:
    return _Parser()


def parse_fsm(text: str, path: str = "<fsm>", check: bool = True) -> Program:
    """Parse (and by default check) a program."""
    _check_version(text, path)
    try:
        program = parse_lines(text)
    except GiveUp:  # not in the line reader's subset: the grammar decides (and says where it is wrong)
        program = parse_lalr(text, path)
    if check:
        from lergan_cc.fsm.check import check_program

        check_program(program, path)
    return program


def parse_lalr(text: str, path: str = "<fsm>") -> Program:
    """The program of ``text`` by the grammar's LALR parser (unchecked)."""
    import lark

    from lergan_cc.lark_errors import describe

    try:
        return _parser().parse(text, path)
    except lark.exceptions.UnexpectedInput as e:
        raise SourceError(path, e.line, e.column, describe(e, _parser().lark)) from None


def _check_version(text: str, path: str) -> None:
    first = text.lstrip().split("\n", 1)[0].split()
    if len(first) == 2 and first[0] == "lergan-fsm" and first[1] not in map(str, READ_VERSIONS):
        line = text[: text.index("lergan-fsm")].count("\n") + 1
        raise SourceError(path, line, 12, f"FSM version {first[1]} is not supported (this simulator reads "
                                          f"versions {', '.join(map(str, READ_VERSIONS))}; lerganc writes "
                                          f"{FSM_VERSION})")



def _unref(token: str) -> Ref:
    body = token[1:]
    return Ref(SIGIL_KIND[token[0]], json.loads(body) if body.startswith('"') else body)


# The transformer's methods are named after the grammar's rules (``int``, ``list``, ``tuple``), which
# shadow the builtins inside its class body: its annotations use these names.
Items = list[Any]
Ints = tuple[int, ...]
Int = int
Float = float


class Pair(tuple):
    """(key, value, line, column) of one ``key=value``."""


class _Builder:
    """The LALR parser's callbacks, one per rule (lark calls ``getattr(builder, rule)`` with the rule's
    children as it reduces: any object with those methods serves, no ``lark.Transformer`` needed)."""

    def __init__(self, path: str) -> None:
        self.path = path

    # ---- values ---------------------------------------------------------------------------
    def _num(self, token: Any, convert: Any = to_int) -> Any:
        """A number token within the limits (at most 18 digits, finite), else an error at the token."""
        try:
            return convert(str(token))
        except ValueError as e:
            raise SourceError(self.path, token.line, token.column, str(e)) from None

    def int(self, items: Items) -> Int:
        return self._num(items[0])

    def float(self, items: Items) -> Float:
        return self._num(items[0], to_float)

    def string(self, items: Items) -> str:
        return json.loads(items[0])

    def ref(self, items: Items) -> Ref:
        return _unref(str(items[0]))

    def sym(self, items: Items) -> Sym:
        return Sym(str(items[0]))

    def list(self, items: Items) -> Items:
        return builtins.list(items)

    def prog(self, items: Items) -> Prog:
        start, step, count = (self._num(t) for t in items)
        return Prog(start, step, count)

    def tuple(self, items: Items) -> Ints:
        return builtins.tuple(self._num(t) for t in items)

    def win(self, items: Items) -> Win:
        return Win(self._num(items[0]), items[1])

    def shape(self, items: Items) -> Ints:
        return builtins.tuple(self._num(t) for t in items)

    def pair(self, items: Items) -> Pair:
        return Pair((str(items[0]), items[1], items[0].line, items[0].column))

    # ---- structure ------------------------------------------------------------------------
    def _pairs(self, items: Items, what: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value, line, column in items:
            if key in out:
                raise SourceError(self.path, line, column, f"{what}: duplicate operand '{key}'")
            out[key] = value
        return out

    def header(self, items: Items) -> Int:
        return self._num(items[0])

    def model(self, items: Items) -> builtins.tuple[str, str, str, dict[str, Any]]:
        return ("model", json.loads(items[0]), str(items[1]), self._pairs(items[2:], "model"))

    def hw(self, items: Items) -> builtins.tuple[str, dict[str, Any]]:
        return ("hw", self._pairs(items, "hw"))

    def decl(self, items: Items) -> Decl:
        kind, ref = str(items[0]), _unref(str(items[1]))
        want = {"param": "param", "buffer": "buf", "matrix": "mat"}[kind]
        if ref.kind != want:
            raise SourceError(self.path, items[0].line, items[0].column, f"{kind} names start with "
                              f"{ {'param': '@', 'buf': '%', 'mat': '$'}[want]}")
        return Decl(kind, ref.name, items[2], self._pairs(items[3:], kind), items[0].line, items[0].column)

    def table(self, items: Items) -> Table:
        keyword, ref = items[0], str(items[1])
        if ref[0] != "&":
            raise SourceError(self.path, keyword.line, keyword.column, "table names start with &")
        rows = [i for i in items[4:] if isinstance(i, builtins.tuple)]  # drop "{" and "}"
        return Table(_unref(ref).name, str(items[2]), [r[0] for r in rows], keyword.line, keyword.column,
                     [(r[1], r[2]) for r in rows])

    def row(self, items: Items) -> builtins.tuple[dict[str, Any], Int, Int]:
        return (self._pairs(items, "table row"), items[0][2], items[0][3])

    def modes(self, items: Items) -> builtins.tuple[str, dict[str, Any]]:
        return ("mode", self._pairs(items, "mode"))

    def switches(self, items: Items) -> builtins.tuple[str, dict[str, Any]]:
        return ("switch", self._pairs(items, "switch"))

    def instr(self, items: Items) -> Instr:
        op = str(items[0])
        return Instr(op, self._pairs(items[1:], op), items[0].line, items[0].column)

    def goto(self, items: Items) -> Transition:
        return Transition("goto", str(items[1]), items[0].line, items[0].column)

    def iterate(self, items: Items) -> Transition:
        return Transition("iterate", str(items[1]), items[0].line, items[0].column)

    def halt(self, items: Items) -> Transition:
        return Transition("halt", None, items[0].line, items[0].column)

    def state(self, items: Items) -> State:
        keyword, name = items[0], items[1]
        from lark import Token

        items = [name, *(i for i in items[2:] if not isinstance(i, Token))]  # drop "{", newlines, "}"
        s = State(str(name), line=keyword.line, column=keyword.column)
        transitions = [t for t in items[1:] if isinstance(t, Transition)]
        if len(transitions) != 1 or not isinstance(items[-1], Transition):
            raise SourceError(self.path, keyword.line, keyword.column,
                              f"state {s.name}: needs exactly one transition (goto, iterate, halt), last")
        s.transition = transitions[0]
        for item in items[1:-1]:
            if isinstance(item, Instr):
                s.body.append(item)
            elif item[0] == "mode":
                s.modes.update(item[1])
            else:
                s.switches.update(item[1])
        return s

    def start(self, items: Items) -> Program:
        version = items[0]
        model = next((i for i in items if isinstance(i, tuple) and i and i[0] == "model"), None)
        if model is None:
            raise SourceError(self.path, 1, 1, "missing 'model' line")
        hw: dict[str, Any] = next((i[1] for i in items if isinstance(i, tuple) and i and i[0] == "hw"), {})
        p = Program(model[1], model[2], model[3], hw, version=version)
        p.decls = [i for i in items if isinstance(i, Decl)]
        p.states = [i for i in items if isinstance(i, State)]
        p.tables = [i for i in items if isinstance(i, Table)]
        resolve(p, self.path)
        return p

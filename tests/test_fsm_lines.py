"""The line reader (``lergan_cc.fsm.lines``) builds the very program the grammar's LALR parser builds —
value types, line and column numbers included — on every example and on hypothesis-drawn programs; on
a text it does not read, it gives up (and ``parse_fsm`` falls back to the grammar), never reads it
differently."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lergan_cc.bench.configs import CONFIGS
from lergan_cc.bench.runner import FLAG_OPTIONS
from lergan_cc.errors import SourceError
from lergan_cc.fsm.asm import parse_fsm, parse_lalr
from lergan_cc.fsm.lines import GiveUp, parse_lines
from lergan_cc.fsm.printer import print_program
from lergan_cc.fsm.program import Decl, Instr, Program, State, Table, Transition
from lergan_cc.fsm.values import Prog, Ref, Sym, Win
from lergan_cc.options import Options
from tests.conftest import compiled

ROOT = Path(__file__).resolve().parent.parent


def canon(v: Any) -> Any:
    """A value with every type spelled out (``Sym('a') == 'a'`` in Python; here they differ)."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return (type(v).__name__, tuple((f.name, canon(getattr(v, f.name))) for f in dataclasses.fields(v)))
    if isinstance(v, dict):
        return ("dict", tuple((k, canon(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(canon(x) for x in v))
    return (type(v).__name__, v)


def both(text: str) -> tuple[Any, Any]:
    """(the line reader's program or None when it gives up, the LALR parser's or None when it refuses)."""
    try:
        fast: Any = canon(parse_lines(text))
    except GiveUp:
        fast = None
    try:
        slow: Any = canon(parse_lalr(text, "p.fsm"))
    except SourceError:
        slow = None
    return fast, slow


def _options(config: str) -> Options:
    flags = CONFIGS[config].flags
    return Options(**{FLAG_OPTIONS[f]: int(v) if v.isdigit() else v for f, v in zip(flags[::2], flags[1::2],
                                                                                      strict=True)})


@pytest.mark.parametrize("config", ["prime", "zara-high", "lergan-high-dp"])
@pytest.mark.parametrize("model", sorted(p.name for p in (ROOT / "examples").glob("*.lergan")))
def test_examples_read_the_same(model: str, config: str) -> None:
    text = compiled(ROOT / "examples" / model, _options(config)).text
    fast, slow = both(text)
    assert slow is not None
    assert fast == slow


# ---- drawn programs -------------------------------------------------------------------------------
KEYWORDS = ["j", "mode", "switch", "goto", "iterate", "halt", "state", "model", "hw", "param", "buffer", "matrix",
            "table"]
words = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,4}", fullmatch=True), st.sampled_from(KEYWORDS))
names = st.one_of(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_./\-]{0,5}", fullmatch=True), st.text(max_size=4))
ints = st.one_of(st.integers(-1000, 1000), st.integers(-10**20, 10**20))
int_tuples = st.lists(ints, max_size=3).map(tuple)
progs = st.builds(Prog, ints, ints, ints)
leaves = st.one_of(ints, st.floats(allow_nan=False, width=64), st.text(max_size=4), words.map(Sym),
                   st.builds(Ref, st.sampled_from(["buf", "param", "mat", "table"]), names), progs, int_tuples,
                   st.builds(Win, ints, st.one_of(progs, int_tuples)))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
pairs = st.dictionaries(words, values, max_size=3)
transitions = st.one_of(st.builds(Transition, st.sampled_from(["goto", "iterate"]), words), st.just(Transition("halt")))
# instruction tables: a few names and opcodes, so that lines name tables that exist, of their opcode, or not
table_names = st.sampled_from(["t", "u.1", '"t 2"'])
table_ops = st.sampled_from(["x", "mmv", "write"])
tables = st.builds(Table, table_names.map(lambda n: n.strip('"')), table_ops,
                   st.lists(st.dictionaries(words, values, min_size=1, max_size=2), max_size=3))
uses = st.builds(lambda op, ops, name: Instr(op, {**ops, "rows": Ref("table", name)}), table_ops, pairs,
                 table_names.map(lambda n: n.strip('"')))
instrs = st.one_of(st.builds(Instr, words, pairs), uses)
states = st.builds(State, words, pairs, pairs, st.lists(instrs, max_size=3), transitions)
decls = st.builds(Decl, st.sampled_from(["param", "buffer", "matrix"]), names, int_tuples, pairs)
programs = st.builds(Program, st.text(max_size=4), words, pairs, pairs, st.lists(decls, max_size=3),
                     st.lists(states, min_size=1, max_size=3), st.sampled_from([2, 3]),
                     st.lists(tables, max_size=2))


@st.composite
def table_programs(draw: st.DrawFn) -> Program:
    """Programs whose tables are all used, each line of its table's opcode, no operand both on a line and in a
    row: programs the assemblers read (unless a drawn value or keyword is not in the grammar). Opcodes outside
    the ISA: the printer spells an ISA opcode's operands only (the checks refuse any other)."""
    p = draw(programs)
    p.version = 3
    rows = st.lists(st.dictionaries(words, values, min_size=1, max_size=2), min_size=1, max_size=3)
    p.tables = draw(st.lists(st.builds(Table, names, st.sampled_from(["x", "y.z"]), rows), min_size=1, max_size=3,
                             unique_by=lambda t: t.name))
    for s in p.states:
        s.body = [i for i in s.body if "rows" not in i.operands]
    for t in p.tables:
        s = p.states[draw(st.integers(0, len(p.states) - 1))]
        taken = {k for row in t.rows for k in row}
        line = {k: v for k, v in draw(pairs).items() if k not in taken and k != "rows"}
        s.body.insert(draw(st.integers(0, len(s.body))), Instr(t.op, {**line, "rows": Ref("table", t.name)}))
    return p


# what can be put into a text: blanks, comments, line ends, and the characters the grammar gives a meaning
edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2),
                           st.sampled_from([" ", "\t", "  # c", "\n", "\r\n", "\r", "\n\n", "j", "+", ",", "=", "]",
                                            "[", "(", ")", "<", ">", '"', "%", "$", "@", "x", "1", "-", ".", "e5",
                                            "}", "{", "#", "\x0c", "é", "&", "table &t x {\n", "rows=&t"])),
                 max_size=4)


def _edit(text: str, changes: list[tuple[int, int, str]]) -> str:
    for at, cut, put in changes:
        i = at % (len(text) + 1)
        text = text[:i] + put + text[i + cut:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, edits)
@example(Program("m", "gan", {"a": 3}, {}, [], [State("s", body=[Instr("x", {"b": 1, "j": 2})])]), [])
@example(Program("m", "gan", {}, {}, [], [State("s", body=[Instr("x", {"b": 1, "rows": Ref("table", "t")})])],
                 tables=[Table("t", "x", [{"c": 1}, {"c": Sym("d")}])]), [])
def test_drawn_programs_read_the_same_or_give_up(p: Program, changes: list[tuple[int, int, str]]) -> None:
    text = _edit(print_program(p), changes)
    fast, slow = both(text)
    if fast is not None:  # the line reader only reads what the grammar reads, and reads it the same
        assert fast == slow
    if not changes:  # a printed program: the line reader reads it when the grammar does
        assert (fast is None) == (slow is None) or _keywords_in(p)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_programs(), edits)
def test_drawn_table_programs_read_the_same(p: Program, changes: list[tuple[int, int, str]]) -> None:
    """Programs with tables, as printed and edited: the line reader reads them as the grammar does, or gives up;
    a printed one it reads whenever the grammar does, and both expand every table line."""
    text = _edit(print_program(p), changes)
    fast, slow = both(text)
    if fast is not None:
        assert fast == slow
    if not changes:
        assert (fast is None) == (slow is None) or _keywords_in(p)
        if slow is not None:
            q = parse_lalr(text)
            assert sum(len(s.folds) for s in q.states) == len(p.tables)
            assert all("rows" not in i.operands for s in q.states for i in s.body)


def _keywords_in(p: Program) -> bool:
    """Keywords where the grammar gives them another meaning (an op ``goto``, a key ``j`` after a
    number): the grammar refuses those, or reads them differently; the line reader may give up."""
    text = print_program(p)
    return any(f" {k}" in text or f"{k} " in text or f"\n{k}" in text for k in KEYWORDS)


def test_parse_fsm_falls_back_for_errors() -> None:
    """Blanks around '=' and a comment read the same; a repeated operand is the grammar's error, at its line."""
    text = 'lergan-fsm 2\nmodel "m" gan batch = 4\nstate s {\n  x a = 1  # c\n  halt\n}\n'
    assert canon(parse_fsm(text, "p.fsm", check=False)) == canon(parse_lalr(text))
    with pytest.raises(SourceError, match=r"p.fsm:4:"):
        parse_fsm(text.replace("a = 1", "a = 1 a = 2"), "p.fsm", check=False)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n\r\n", " \r", "\n#\r"])
def test_line_ends(end: str) -> None:
    """'\\r\\n' ends a line like '\\n'; a '\\r' alone is the grammar's error (not a blank)."""
    text = 'lergan-fsm 2\r\nmodel "m" gan\r\nstate s {\r\n  halt\r\n}' + end
    fast, slow = both(text)
    assert fast == slow

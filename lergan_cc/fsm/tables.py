"""Instruction tables (FSM version 3): a run of instructions that differ in a few operands, spelled once.

``table &G4.mmv mmv { row... }`` lists operand rows; ``mmv dst=%G4 ... rows=&G4.mmv`` in a state is one
``mmv`` per row, in row order, each with the line's operands and the row's. A pure factoring of the text:
in memory every state's body holds the expanded instructions (what the simulators, checks and reports
read), and :class:`~lergan_cc.fsm.program.Fold` records say which runs of it the text spells as table lines.

- :func:`resolve`: the assemblers' last step: expand every table line, record its fold, refuse a bad table
  (one error with its position);
- :func:`fold_states`: the emitter's rule: a run of at least two instructions of one matrix op (its kinds'
  ``write`` lines, its kinds' ``mmv`` nests) becomes a table; its rows hold the operands that differ within the
  run, the line the ones all its instructions share. Tables are shared by content: the run a layer's body
  repeats in several states (the passes of D on the real and the fake batch, G's forward in three states,
  a network's writes in ``init`` and its re-programming) is one table used by several lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

from lergan_cc.errors import SourceError
from lergan_cc.fsm.program import Fold, Instr, Program, State, Table
from lergan_cc.fsm.values import Ref, Value, fmt

ROWS = "rows"  # the operand of an instruction line that names its table


def uses_table(ins: Instr) -> Ref | None:
    """The table an instruction line names (``rows=&name``), or None."""
    ref = ins.operands.get(ROWS)
    return ref if isinstance(ref, Ref) and ref.kind == "table" else None


def resolve(p: Program, path: str) -> None:
    """Expand every state's table lines in place (one instruction per row, at the row's position) and record
    the folds; a table in a version-2 program, a table twice, an empty or unused table, a row naming a table,
    a line naming an unknown table or one of another opcode, an operand both on the line and in a row: an
    error at the line, table or row."""
    def fail(line: int, column: int, msg: str) -> NoReturn:
        raise SourceError(path, line, column, msg)

    tables: dict[str, Table] = {}
    for t in p.tables:
        if p.version < 3:
            fail(t.line, t.column, f"table &{t.name}: tables need FSM version 3 (this program is version {p.version})")
        if t.name in tables:
            fail(t.line, t.column, f"table &{t.name} defined twice (first at line {tables[t.name].line})")
        if not t.rows:
            fail(t.line, t.column, f"table &{t.name} has no rows")
        for k, row in enumerate(t.rows):
            if ROWS in row or any(isinstance(v, Ref) and v.kind == "table" for v in row.values()):
                line, column = t.places[k] if t.places else (t.line, t.column)
                fail(line, column, f"table &{t.name}: a row cannot name a table")
        tables[t.name] = t
    used: set[str] = set()
    for s in p.states:
        if any(uses_table(i) is not None for i in s.body):
            s.body, s.folds = _expand(s, tables, fail)
            used.update(f.table for f in s.folds)
    for t in p.tables:
        if t.name not in used:
            fail(t.line, t.column, f"table &{t.name} is never used")


Fail = Callable[[int, int, str], NoReturn]


def _expand(s: State, tables: dict[str, Table], fail: Fail) -> tuple[list[Instr], list[Fold]]:
    body: list[Instr] = []
    folds: list[Fold] = []
    for ins in s.body:
        ref = uses_table(ins)
        if ref is None:
            body.append(ins)
            continue
        t = tables.get(ref.name)
        if t is None:
            fail(ins.line, ins.column, f"{ins.op}: unknown table &{ref.name}")
        if t.op != ins.op:
            fail(ins.line, ins.column, f"{ins.op}: table &{t.name} (line {t.line}) holds {t.op} rows")
        line = {k: v for k, v in ins.operands.items() if k != ROWS}
        folds.append(Fold(len(body), len(t.rows), t.name, line, ins.line, ins.column))
        for k, row in enumerate(t.rows):
            r_line, r_column = t.places[k] if t.places else (ins.line, ins.column)
            both = next((key for key in row if key in line), None)
            if both is not None:
                fail(ins.line, ins.column, f"{ins.op}: operand '{both}' both here and in row {k + 1} of table "
                                           f"&{t.name} (line {r_line})")
            body.append(Instr(ins.op, {**line, **row}, r_line, r_column))
    return body, folds


def fold_origins(s: State) -> dict[int, Fold]:
    """Body index -> the fold it is a row of (the instructions a state's table lines expand to)."""
    return {f.start + k: f for f in s.folds for k in range(f.count)}


# ---- the emitter's rule ------------------------------------------------------------------------------
def fold_states(states: Sequence[State], runs: Sequence[tuple[str, list[Instr]]]) -> list[Table]:
    """Fold the runs (``(name, instructions)``: the per-kind instructions of one op, the very objects the
    states' bodies hold) wherever a state's body holds one whole, and return the tables, in order of first
    use. A run of fewer than two instructions, or of identical ones (no operand left for a row), stays
    as it is. A table is named ``<name>.<opcode>`` (``.2``, ``.3``… when that name holds other rows)."""
    first = {id(run[0]): (name, run) for name, run in runs if len(run) >= 2}
    split: dict[int, tuple[dict[str, Value], list[dict[str, Value]]] | None] = {}
    by_rows: dict[tuple[str, tuple[str, ...]], Table] = {}
    names: set[str] = set()
    tables: list[Table] = []
    for s in states:
        folds: list[Fold] = []
        i, body = 0, s.body
        while i < len(body):
            hit = first.get(id(body[i]))
            if hit is None or not _holds(body, i, hit[1]):
                i += 1
                continue
            name, run = hit
            if id(run) not in split:
                split[id(run)] = _split(run)
            parts = split[id(run)]
            if parts is None:
                i += len(run)
                continue
            line, rows = parts
            key = (run[0].op, tuple(_spell(row) for row in rows))
            table = by_rows.get(key)
            if table is None:
                table = by_rows[key] = Table(_fresh(f"{name}.{run[0].op}", names), run[0].op, rows)
                tables.append(table)
            folds.append(Fold(i, len(run), table.name, line))
            i += len(run)
        s.folds = folds
    return tables


def _holds(body: list[Instr], i: int, run: list[Instr]) -> bool:
    return len(body) - i >= len(run) and all(a is b for a, b in zip(body[i:i + len(run)], run, strict=False))


def _split(run: list[Instr]) -> tuple[dict[str, Value], list[dict[str, Value]]] | None:
    """(the operands every instruction of the run has alike, each instruction's others), or None: the run
    is not one opcode, or some instruction has no operand of its own."""
    if any(i.op != run[0].op for i in run):
        return None
    spelled = [{k: fmt(v) for k, v in i.operands.items()} for i in run]
    shared = {k for k, v in spelled[0].items() if all(s.get(k) == v for s in spelled[1:])}
    rows = [{k: v for k, v in i.operands.items() if k not in shared} for i in run]
    if ROWS in shared or any(not row or ROWS in row for row in rows):
        return None
    return {k: v for k, v in run[0].operands.items() if k in shared}, rows


def _spell(row: dict[str, Value]) -> str:
    return " ".join(f"{k}={fmt(v)}" for k, v in sorted(row.items()))


def _fresh(name: str, names: set[str]) -> str:
    out, n = name, 1
    while out in names:
        n += 1
        out = f"{name}.{n}"
    names.add(out)
    return out


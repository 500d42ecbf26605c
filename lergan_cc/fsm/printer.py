"""The disassembler: a typed :class:`Program` -> its canonical text (no jinja2 here).

The emit-fsm templates produce exactly this text; ``print(parse(text)) == text`` is tested.
"""

from __future__ import annotations

from lergan_cc.fsm.isa import ISA
from lergan_cc.fsm.program import Decl, Instr, Program, State, Table, Transition
from lergan_cc.fsm.values import Ref, fmt, fmt_pairs, fmt_shape, json_str


def print_program(p: Program) -> str:
    lines = [f"lergan-fsm {p.version}", f"model {json_str(p.model)} {p.kind}{fmt_pairs(p.attrs)}",
             f"hw{fmt_pairs(p.hw)}"]
    lines += [print_decl(d) for d in p.decls]
    for t in p.tables:
        lines += ["", print_table(t)]
    for s in p.states:
        lines += ["", *print_state(s)]
    return "\n".join(lines) + "\n"


def print_decl(d: Decl) -> str:
    return f"{d.kind} {fmt(Ref(DECL_REF[d.kind], d.name))} {fmt_shape(d.shape)}{fmt_pairs(d.attrs)}"


DECL_REF = {"param": "param", "buffer": "buf", "matrix": "mat"}


def print_state(s: State) -> list[str]:
    lines = [f"state {s.name} {{"]
    if s.modes:
        lines.append(f"  mode{fmt_pairs(s.modes)}")
    if s.switches:
        lines.append(f"  switch{fmt_pairs(s.switches)}")
    lines += ["  " + line for line in body_lines(s)]
    lines += ["  " + print_transition(s.transition), "}"]
    return lines


def body_lines(s: State) -> list[str]:
    """A state's instructions, one line each but for the runs its folds spell as table lines."""
    if not s.folds:
        return [print_instr(i) for i in s.body]
    out: list[str] = []
    i = 0
    for f in s.folds:
        out += [print_instr(ins) for ins in s.body[i:f.start]]
        op = s.body[f.start].op
        out.append(op + _ordered(op, f.operands) + f" rows={fmt(Ref('table', f.table))}")
        i = f.start + f.count
    out += [print_instr(ins) for ins in s.body[i:]]
    return out


def print_table(t: Table) -> str:
    rows = "".join(f"\n  {_ordered(t.op, row).lstrip()}" for row in t.rows)
    return f"table {fmt(Ref('table', t.name))} {t.op} {{{rows}\n}}"


def print_instr(i: Instr) -> str:
    return i.op + _ordered(i.op, i.operands)


def _ordered(op: str, operands: dict) -> str:
    """`` key=value…`` in the ISA's operand order (of an opcode it does not know: in the given order)."""
    order = [o.name for o in ISA[op].operands] if op in ISA else list(operands)
    return fmt_pairs({k: operands[k] for k in order if k in operands})


def print_transition(t: Transition) -> str:
    return t.kind if t.target is None else f"{t.kind} {t.target}"

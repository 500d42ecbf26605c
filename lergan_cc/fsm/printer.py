"""The disassembler: a typed :class:`Program` -> its canonical text (no jinja2 here).

The emit-fsm templates produce exactly this text; ``print(parse(text)) == text`` is tested.
"""

from __future__ import annotations

from lergan_cc.fsm.isa import ISA
from lergan_cc.fsm.program import Decl, Instr, Program, State, Transition
from lergan_cc.fsm.values import Ref, fmt, fmt_pairs, fmt_shape, json_str


def print_program(p: Program) -> str:
    lines = [f"lergan-fsm {p.version}", f"model {json_str(p.model)} {p.kind}{fmt_pairs(p.attrs)}",
             f"hw{fmt_pairs(p.hw)}"]
    lines += [print_decl(d) for d in p.decls]
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
    lines += ["  " + print_instr(i) for i in s.body]
    lines += ["  " + print_transition(s.transition), "}"]
    return lines


def print_instr(i: Instr) -> str:
    order = [o.name for o in ISA[i.op].operands] if i.op in ISA else list(i.operands)
    return i.op + fmt_pairs({k: i.operands[k] for k in order if k in i.operands})


def print_transition(t: Transition) -> str:
    return t.kind if t.target is None else f"{t.kind} {t.target}"

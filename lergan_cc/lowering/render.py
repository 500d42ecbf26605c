"""Render a typed program through the jinja2 templates in ``targets/templates`` (StrictUndefined).

The templates lay out the program; the filters spell values exactly as the printer does,
so the assembler's re-print of the rendered text is identical to it.
"""

from __future__ import annotations

from functools import cache

import jinja2

from lergan_cc.fsm import printer
from lergan_cc.fsm.program import Program
from lergan_cc.fsm.values import fmt_pairs, json_str


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("lergan_cc.targets", "templates"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    env.filters.update(jstr=json_str, pairs=fmt_pairs, decl=printer.print_decl, table=printer.print_table,
                       body_lines=printer.body_lines, transition=printer.print_transition)
    return env


def render(p: Program) -> str:
    return _env().get_template("program.fsm.j2").render(p=p)

"""One-line descriptions of lark parse errors, shared by the IR and FSM parsers.

Terminals are shown as a person reads them: a keyword as itself (``"lergan-fsm"``), a class of token
by what it is ("an integer"), never by lark's internal names (``__ANON_0``, ``_NL``).
"""

from __future__ import annotations

import lark

WORDS = {"_NL": "a line break", "$END": "the end of the input", "INT": "an integer", "FLOAT": "a number",
         "NUMBER": "a number", "STRING": "a string", "WORD": "a word", "NAME": "a name", "REF": "a reference",
         "DECL": "param, buffer or matrix", "SIGNED_NUMBER": "a number", "CNAME": "a name"}


def terminal_word(name: str, parser: lark.Lark | None = None) -> str:
    """How to show terminal ``name``: a keyword in quotes, a token class in words."""
    if name in WORDS:
        return WORDS[name]
    if parser is not None:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            pattern = None
        if pattern is not None and pattern.type == "str":
            return f'"{pattern.value}"'
    if name.startswith("_"):
        return "a token"
    return f'"{name.lower()}"' if name.isupper() and len(name) > 1 else f'"{name}"'


def describe(e: lark.exceptions.UnexpectedInput, parser: lark.Lark | None = None) -> str:
    if isinstance(e, lark.exceptions.UnexpectedToken):
        expected = sorted({terminal_word(n, parser) for n in e.expected})[:8]
        got = terminal_word(e.token.type, parser) if e.token.type in ("_NL", "$END") else repr(str(e.token)[:40])
        return f"unexpected {got}, expected {expected[0] if len(expected) == 1 else 'one of: ' + ', '.join(expected)}"
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}"
    return "unexpected end of input"

"""One-line descriptions of lark parse errors, shared by the IR and FSM parsers."""

from __future__ import annotations

import lark


def describe(e: lark.exceptions.UnexpectedInput) -> str:
    if isinstance(e, lark.exceptions.UnexpectedToken):
        expected = ", ".join(sorted(e.expected)[:8])
        return f"unexpected {str(e.token)!r}, expected one of: {expected}"
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}"
    return "unexpected end of input"

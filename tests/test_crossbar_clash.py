"""The assembler's check that no two copies share a crossbar (``check._Crossbars``, on arrays) finds the
same clash, with the same message, as the pairwise scan it replaced (the reference below)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lergan_cc.fsm.check import _Crossbars
from lergan_cc.fsm.copies import Copies


@dataclass(frozen=True)
class Decl:
    name: str
    line: int


def reference(claims: list[tuple[Decl, Copies]]) -> tuple[Any, str] | None:
    ranges: dict[str, list[tuple[int, int, Any]]] = {}
    for decl, copies in claims:
        for i, (bank, _) in enumerate(copies.places):
            ranges.setdefault(bank, []).extend((o, o + n, decl) for o, n in copies.pieces(i))
    for bank, rs in ranges.items():
        rs.sort(key=lambda r: (r[0], r[1]))
        for (_, hi, a), (lo, _, b) in itertools.pairwise(rs):
            if lo < hi:
                later = max(a, b, key=lambda d: d.line)
                return later, f"crossbar {lo} of bank {bank} is held by both ${a.name} and ${b.name}"
    return None


@st.composite
def copies(draw: st.DrawFn) -> Copies:
    n, crossbars = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    places = tuple((draw(st.sampled_from(["B0", "B1"])), draw(st.integers(0, 40))) for _ in range(n))
    split = {}
    for i in range(n):
        if crossbars > 1 and draw(st.booleans()):
            cut = draw(st.integers(1, crossbars - 1))
            split[i] = ((places[i][1], cut), (draw(st.integers(0, 40)), crossbars - cut))
    return Copies(1, n, crossbars, places, split)


@given(st.lists(st.tuples(st.integers(1, 4), copies()), min_size=1, max_size=5))
def test_the_same_clash_as_the_pairwise_scan(drawn: list[tuple[int, Copies]]) -> None:
    claims = [(Decl(f"m{k}", line), c) for k, (line, c) in enumerate(drawn)]
    used = _Crossbars()
    for decl, c in claims:
        used.claim(decl, c)
    assert used.clash() == reference(claims)

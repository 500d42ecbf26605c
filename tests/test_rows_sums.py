"""The timing rows' array sums (lergan_cc/sim/rows.py) against the event model's plain loops: per segment
``total += v`` in row order, segments in order of first appearance, floats to the last bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.sim.rows import SHORT, segment_sums, union_length


def loop_sums(segment: list[int], values: list[float]) -> dict[int, float]:
    totals: dict[int, float] = {}
    for k, v in zip(segment, values, strict=True):
        totals[k] = totals.get(k, 0.0) + v
    return totals


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.floats(0, 1e6, allow_nan=False)), max_size=4 * SHORT + 8),
       st.integers(0, 3 * SHORT))
def test_segment_sums_are_the_loops(rows: list[tuple[int, float]], long_run: int) -> None:
    # some segments longer than SHORT (summed one by one), most shorter (summed position by position)
    rows = rows + [(7, 0.1 * (i + 1)) for i in range(long_run)]
    segment = np.array([k for k, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows])
    ids, totals = segment_sums(segment, values)
    expected = loop_sums(segment.tolist(), values.tolist())
    assert ids.tolist() == list(expected)
    assert totals.tolist() == list(expected.values())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), max_size=40))
def test_union_length_is_the_covered_length(spans: list[tuple[int, int]]) -> None:
    start = np.array([s / 4 for s, _ in spans], dtype=np.float64)
    end = np.array([(s + n) / 4 for s, n in spans], dtype=np.float64)
    covered = {x for s, n in spans for x in range(s, s + n)}  # quarter-unit cells: exact in binary
    assert union_length(start, end) == len(covered) / 4

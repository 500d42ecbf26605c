"""The fast timing path's gap search and its batch of a peripheral op's units (issue 15).

``lanes.fit`` is held to the earliest free start found by brute force (every candidate start: the ready time
and every interval's end, each checked against every interval), over random timelines. The batch of a
peripheral op's units (``timing_pieces``) is held to the event-by-event model by tests/test_timing_fast.py
(random programs with the batch paths forced on, and benchmarks); here: that the batch is taken on a
benchmark with sample-parallel copies, and the rule that decides when units do not see each other.
"""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc import api
from lergan_cc.sim import timing_fast, timing_pieces
from lergan_cc.sim.lanes import fit
from lergan_cc.sim.schedule import Timeline
from tests.test_timing_fast import exact

interval = st.tuples(st.integers(0, 60), st.integers(1, 12))  # (start, length), in quarter ns


def timeline(holds: list[tuple[int, int]]) -> Timeline:
    line = Timeline()
    for start, length in holds:
        line.hold(start / 4, (start + length) / 4)
    return line


def earliest(t: float, ns: float, lines: list[Timeline]) -> float:
    """The least candidate start (``t`` or an interval's end at or after it) whose ``[start, start + ns)`` no
    interval of any line overlaps."""
    busy = [(s, e) for line in lines for s, e in zip(line.starts, line.ends, strict=True)]
    candidates = sorted({t} | {e for _, e in busy if e >= t})
    return next(c for c in candidates if not any(s < c + ns and e > c for s, e in busy))


@settings(max_examples=400, deadline=None)
@given(holds=st.lists(st.lists(interval, max_size=12), min_size=1, max_size=4), t=st.integers(0, 80),
       ns=st.integers(1, 16))  # (a task of no length is never fitted: Lanes.place starts it at its data)
def test_fit_is_the_earliest_free_start(holds: list[list[tuple[int, int]]], t: int, ns: int) -> None:
    lines = [timeline(h) for h in holds]
    assert fit(t / 4, ns / 4, lines) == earliest(t / 4, ns / 4, lines)


def test_the_batch_places_the_peripheral_ops_of_a_sample_parallel_program() -> None:
    """MAGAN-MNIST with as many copies as fit: most peripheral ops go as a batch, and the report is the
    event-by-event one."""
    program = api.compile("examples/magan_mnist.lergan", batch=16, data_parallel="auto", warn=lambda _: None)
    taken = []
    real = timing_pieces.place_pieces

    def spy(*args: object) -> bool:
        taken.append(real(*args))  # type: ignore[arg-type]
        return taken[-1]

    with mock.patch.object(timing_fast, "place_pieces", spy):
        fast = api.simulate(program, timing_only=True)
    event = api.simulate(program, timing_only=True, timing_engine="event")
    assert fast.report is not None and event.report is not None
    assert exact(fast.report) == exact(event.report)
    assert sum(taken) > 10 and sum(taken) > len(taken) / 2


def test_units_are_independent_unless_one_touches_what_another_writes() -> None:
    independent = timing_pieces._independent
    # unit i reads, writes and adds to names of its own; they may share what they read and what they add to
    assert independent([[1, 9], [2, 9]], [[1], [2]], [[7], [7]])
    assert not independent([[1], [2]], [[3], [3]], [[], []])  # two units write one name
    assert not independent([[1], [3]], [[3], [4]], [[], []])  # a unit reads what another writes
    assert not independent([[1], [2]], [[3], [4]], [[4], []])  # a unit adds to what another writes
    assert not independent([[1], [7]], [[3], [4]], [[7], []])  # a unit reads what another adds to
    assert not independent([[1], [7]], [[3], [4]], [[7], [7]])  # ... what several add to
    assert independent([[1], [2]], [[1], [2]], [[1], [2]])  # a unit's own names may overlap (bias: in place)

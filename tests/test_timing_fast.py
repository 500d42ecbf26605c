"""The fast timing model gives the event-by-event model's report exactly: every field, every float bit for bit,
and the same trace (issue 15).

Small GANs in the DSL over every option that changes the schedule (zero-free scheme, target, replicas,
sample-parallel copies, gradient reduction, batch-norm sync, weight programming, overlaps, iterations),
each timed by both models; the batch paths of the fast one are forced on (every instruction with a unit,
``BULK_MIN = 1``) or off (none) as well as left at their default. The benchmarks themselves are held to
reports written by the event-by-event model in tests/test_schedule_golden.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lergan_cc import api
from lergan_cc.errors import LerganError
from lergan_cc.sim import timing_fast
from lergan_cc.sim.layout import Layout
from lergan_cc.sim.timing_bulk import batch_of
from tests.test_data_parallel_functional import gan


def reports(program: api.Program, iterations: int, bulk_min: int) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    event = api.simulate(program, timing_only=True, iterations=iterations, trace=True, timing_engine="event")
    with mock.patch.object(timing_fast, "BULK_MIN", bulk_min):
        fast = api.simulate(program, timing_only=True, iterations=iterations, trace=True)
    assert event.report is not None and fast.report is not None and event.trace and fast.trace
    return event.report, fast.report, event.trace(), fast.trace()


def exact(report: dict[str, Any]) -> str:
    """The report as JSON: equal strings mean equal values, floats to the last bit."""
    return json.dumps(report, sort_keys=True)


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank=st.sampled_from([2, 3]), channels=st.tuples(st.integers(2, 4), st.integers(2, 3)),
       batchnorm=st.booleans(), batch=st.integers(2, 12), copies=st.sampled_from([1, 2, 3, "auto"]),
       zero_free=st.sampled_from(["zfdr", "deform", "none"]), target=st.sampled_from(["lergan-3d", "htree-2d"]),
       replica=st.sampled_from(["none", "low", "middle", "high"]), grad_reduce=st.sampled_from(["tree", "home"]),
       bn_sync=st.sampled_from(["global", "shard"]), programming=st.sampled_from(["multicast", "per-copy"]),
       overlap=st.sampled_from(["none", "paper"]), iterations=st.integers(1, 2),
       bulk_min=st.sampled_from([1, timing_fast.BULK_MIN, 10**9]))
def test_fast_model_equals_event_model(rank: int, channels: tuple[int, int], batchnorm: bool, batch: int,
                                       copies: int | str, zero_free: str, target: str, replica: str, grad_reduce: str,
                                       bn_sync: str, programming: str, overlap: str, iterations: int,
                                       bulk_min: int) -> None:
    copies = min(copies, batch) if isinstance(copies, int) else copies
    try:
        program = api.compile(gan(rank, channels, batchnorm), batch=batch, replica=replica, zero_free=zero_free,
                              target=target, data_parallel=copies, grad_reduce=grad_reduce, bn_sync=bn_sync,
                              dp_programming=programming, overlap=overlap, warn=lambda _: None)
    except LerganError:  # a design point that does not fit
        return
    event, fast, event_trace, fast_trace = reports(program, iterations, bulk_min)
    assert exact(fast) == exact(event)
    assert fast_trace == event_trace


@pytest.mark.parametrize("options", [{"replica": "high"}, {"data_parallel": "auto", "overlap": "paper"},
                                     {"data_parallel": 3, "replica": "middle", "grad_reduce": "home"}])
def test_fast_model_equals_event_model_on_a_benchmark(options: dict[str, Any]) -> None:
    """MAGAN-MNIST at batch 8: every batch path with real sizes (replicas of every kind, copies of every phase)."""
    program = api.compile("examples/magan_mnist.lergan", batch=8, warn=lambda _: None, **options)
    event, fast, _, _ = reports(program, 1, timing_fast.BULK_MIN)
    assert exact(fast) == exact(event)


def test_batches_are_the_units_of_the_layout() -> None:
    """The batch path's units of an ``mmv`` or ``write`` (as arrays) are ``Layout.units``, in order."""
    program = api.compile(gan(2, (3, 2), True), batch=7, replica="high", data_parallel=3, warn=lambda _: None)
    tm = timing_fast.FastTiming(program.fsm)
    layout = Layout(program.fsm, tm.hw.crossbars_per_tile)
    seen = 0
    for state in program.fsm.states:
        for ins in state.body:
            b = batch_of(tm, ins) if ins.op in ("mmv", "write") else None
            if b is not None:
                assert [b.unit(i) for i in range(len(b))] == layout.units(ins)
                seen += 1
    assert seen > 10


def test_a_program_whose_names_could_alias_is_timed_event_by_event() -> None:
    program = api.compile(gan(2, (2, 2), False), batch=4, warn=lambda _: None)
    text = re.sub(r"%G1\.act(?=[\s,\]])", '%"G1#act"', program.text)
    from lergan_cc.fsm.asm import parse_fsm

    aliased = parse_fsm(text)
    assert isinstance(timing_fast.make_timing(aliased), timing_fast.event.Timing)
    assert isinstance(timing_fast.make_timing(program.fsm), timing_fast.FastTiming)


def test_the_report_does_not_depend_on_string_hashing(tmp_path: Any) -> None:
    """Two processes with different hash seeds give the same report (the reduction's Steiner tree used to come
    back with its edges in either orientation, and the energies of its links were summed in that order)."""
    program = api.compile("examples/magan_mnist.lergan", zero_free="none", target="htree-2d", replica="none",
                          data_parallel="auto", overlap="paper", warn=lambda _: None)  # seeds 1 and 5 differed
    (tmp_path / "p.fsm").write_text(program.text)
    digests = set()
    for seed in ("1", "5"):  # the program only: --timing-only reads no sidecar
        out = tmp_path / f"r{seed}.json"
        subprocess.run([sys.executable, "-m", "lergan_cc.cli.lergan_sim", str(tmp_path / "p.fsm"), "--timing-only",
                        "--report", str(out)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        digests.add(exact(json.loads(out.read_text())))
    assert len(digests) == 1

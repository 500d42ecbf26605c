"""The simulator's worker threads (lergan_cc.sim.workers.run_all): every job once, results in order, at most
``workers()`` jobs at a time, errors raised after the other jobs finished, nested calls without deadlock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import cast

import pytest

from lergan_cc.sim import workers as W


@pytest.fixture(params=[1, 2, 3])
def n_workers(request: pytest.FixtureRequest) -> Iterator[int]:
    W.set_workers(request.param)
    yield request.param
    W.set_workers(0)


class Meter:
    """Counts the jobs running at once and the calls per job."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.calls: list[int] = []

    def job(self, i: int, seconds: float = 0.002) -> object:
        def run(*args: object) -> object:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.calls.append(i)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
            return (i, args)
        return run


@pytest.mark.parametrize("jobs", [0, 1, 2, 5, 17])
def test_every_job_once_in_order_never_more_threads_than_workers(n_workers: int, jobs: int) -> None:
    m = Meter()
    assert W.run_all([m.job(i) for i in range(jobs)], "x") == [(i, ("x",)) for i in range(jobs)]
    assert sorted(m.calls) == list(range(jobs))
    assert m.most <= n_workers


def test_the_threads_share_the_jobs_out() -> None:
    """Four equal jobs on two workers run two at a time (this thread takes jobs too)."""
    W.set_workers(2)
    try:
        m = Meter()
        W.run_all([m.job(i, 0.05) for i in range(4)])
        assert m.most == 2
    finally:
        W.set_workers(0)


def test_an_error_is_raised_after_the_jobs_taken_finish(n_workers: int) -> None:
    done: list[int] = []

    def fails() -> None:
        raise ValueError("job 3")

    def slow(i: int) -> Callable[[], None]:
        def run() -> None:
            time.sleep(0.01)
            done.append(i)
        return run
    jobs = [slow(0), slow(1), slow(2), fails, slow(4), slow(5)]
    with pytest.raises(ValueError, match="job 3"):
        W.run_all(jobs)
    finished = list(done)
    time.sleep(0.05)
    assert done == finished  # nothing still runs once the error is raised
    assert {0, 1, 2} <= set(done) and 3 not in done


def test_nested_calls_finish(n_workers: int) -> None:
    """A job that shares out work of its own (all threads busy with outer jobs) does not wait forever."""
    def outer(i: int) -> Callable[[], int]:
        def run() -> int:
            return sum(cast(int, r) for r in W.run_all([partial(int.__mul__, k, i) for k in range(4)]))
        return run
    assert W.run_all([outer(i) for i in range(6)]) == [6 * i for i in range(6)]

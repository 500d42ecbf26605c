"""Progress of a run: done / running / failed counts and an ETA, as a ``rich`` bar on a terminal and as
one line per finished task otherwise (logs, CI). The ETA counts computed tasks only: cache hits are
instant and would make it lie."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from lergan_cc.bench.task import Task


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Counts:
    """What both displays show."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.cached, self.failed, self.running = total, 0, 0, 0, 0
        self.start = time.monotonic()

    def add(self, record: dict[str, Any], cached: bool) -> None:
        self.done += 1
        self.cached += cached
        self.failed += not record.get("ok", False)

    def eta(self) -> float | None:
        """Seconds left at the rate computed tasks have finished so far."""
        computed = self.done - self.cached
        if computed == 0:
            return None
        return (time.monotonic() - self.start) / computed * (self.total - self.done)

    def state(self) -> str:
        eta = self.eta()
        return (f"running {self.running} · failed {self.failed} · {self.cached} cached · "
                f"ETA {'?' if eta is None else _clock(eta)}")


def _outcome(record: dict[str, Any], how: str) -> str:
    return f"{'ok' if record.get('ok') else 'error: ' + str(record.get('error'))} ({how})"


class Lines:
    """One line per computed task (and one for all cache hits) on a stream that is not a terminal."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.counts, self.stream = Counts(total), stream
        self._hits_told = False

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tell_hits()

    def _tell_hits(self) -> None:
        if self.counts.cached and not self._hits_told:
            print(f"{self.counts.cached} of {self.counts.total} from the cache", file=self.stream, flush=True)
        self._hits_told = True

    def cached(self, task: Task, record: dict[str, Any]) -> None:
        self.counts.add(record, cached=True)

    def done(self, task: Task, record: dict[str, Any]) -> None:
        self._tell_hits()
        self.counts.add(record, cached=False)
        took = f"{record.get('seconds', 0):.1f} s"
        print(f"[{self.counts.done}/{self.counts.total}] {task.label}: {_outcome(record, took)} · "
              f"{self.counts.state()}", file=self.stream, flush=True)

    def running(self, count: int) -> None:
        self.counts.running = count


class Bar:
    """A ``rich`` progress bar over the tasks left to compute, with the counts beside it."""

    def __init__(self, total: int, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.counts = Counts(total)
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("done {task.completed}/{task.total} · {task.fields[counts]} · elapsed"),
                                  TimeElapsedColumn(), console=Console(file=stream), transient=False)
        self._bar = self._progress.add_task("points", total=total, counts="")

    def __enter__(self) -> Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self._progress.stop()

    def _refresh(self) -> None:
        c = self.counts
        self._progress.update(self._bar, completed=c.done, counts=c.state())

    def cached(self, task: Task, record: dict[str, Any]) -> None:
        self.counts.add(record, cached=True)
        self._refresh()

    def done(self, task: Task, record: dict[str, Any]) -> None:
        self.counts.add(record, cached=False)
        if not record.get("ok"):
            self._progress.console.print(f"{task.label}: {_outcome(record, 'failed')}")
        self._refresh()

    def running(self, count: int) -> None:
        self.counts.running = count
        self._refresh()


def create(total: int, stream: TextIO | None = None) -> Bar | Lines:
    """A bar on a terminal, lines elsewhere."""
    stream = stream or sys.stderr
    return Bar(total, stream) if stream.isatty() else Lines(total, stream)

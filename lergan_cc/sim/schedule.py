"""List scheduling of one FSM state: in program order, each task starts as soon as its data and its
resources allow, in the first gap long enough on every resource it holds (backfilling).

Data: a read waits for the last full write of a name and the partial writes after it; a full
write waits for those and for the reads since; a partial write (an ``mmv`` filling its kind's
positions, a gradient accumulating) waits for the last full write and the reads since, but not for
the other partial writes of its group. Resources (crossbars of a matrix copy, wires, switches, a
tile's peripherals, the host) are exclusive: a task holds all of its own from start to end.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

EPS = 1e-6  # ns: intervals closer than this are one


class Timeline:
    """Busy intervals of one resource, sorted and disjoint."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def conflict(self, t: float, ns: float) -> float | None:
        """The end of a busy interval that overlaps [t, t+ns), if any."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and self.ends[i] > t:
            return self.ends[i]
        j = i + 1
        if j < len(self.starts) and self.starts[j] < t + ns:
            return self.ends[j]
        return None

    def hold(self, t: float, end: float) -> None:
        """Mark [t, end) busy, merging with touching neighbours so back-to-back work is one interval."""
        i = bisect.bisect_right(self.starts, t)
        if i > 0 and self.ends[i - 1] >= t - EPS:
            i -= 1
            self.ends[i] = max(self.ends[i], end)
        else:
            self.starts.insert(i, t)
            self.ends.insert(i, end)
        while i + 1 < len(self.starts) and self.starts[i + 1] <= self.ends[i] + EPS:
            self.ends[i] = max(self.ends[i], self.ends.pop(i + 1))
            self.starts.pop(i + 1)


class Scheduler:
    def __init__(self, t0: float) -> None:
        self.t0 = self.end = t0
        self.busy: dict[str, Timeline] = defaultdict(Timeline)
        self.full: dict[str, float] = defaultdict(lambda: t0)
        self.parts: dict[str, float] = defaultdict(lambda: t0)
        self.readers: dict[str, float] = defaultdict(lambda: t0)

    def ready(self, reads: list[str], writes: list[str], parts: list[str]) -> float:
        t = self.t0
        for n in reads:
            t = max(t, self.full[n], self.parts[n])
        for n in writes:
            t = max(t, self.full[n], self.parts[n], self.readers[n])
        for n in parts:
            t = max(t, self.full[n], self.readers[n])
        return t

    def slot(self, t: float, ns: float, resources: tuple[str, ...]) -> float:
        """The earliest start >= t at which every resource is free for ``ns``."""
        lines = [self.busy[r] for r in resources]
        moved = True
        while moved:
            moved = False
            for line in lines:
                end = line.conflict(t, ns) if ns > 0 else None
                if end is not None:
                    t, moved = end, True
        return t

    def place(self, ns: float, resources: tuple[str, ...], reads: list[str], writes: list[str], parts: list[str],
              after: float = 0.0) -> tuple[float, float]:
        start = self.slot(max(after, self.ready(reads, writes, parts)), ns, resources)
        end = start + ns
        if ns > 0:
            for r in resources:
                self.busy[r].hold(start, end)
        for n in reads:
            self.readers[n] = max(self.readers[n], end)
        for n in writes:
            self.full[n], self.parts[n], self.readers[n] = end, self.t0, self.t0
        for n in parts:
            self.parts[n] = max(self.parts[n], end)
        self.end = max(self.end, end)
        return start, end

"""The fast timing path's list scheduler: :class:`lergan_cc.sim.schedule.Scheduler` over integer ids,
with the readiness of names in arrays so that a batch of tasks is placed at once.

Names (matrix copies, buffer pieces, params) and crossbar resources share one id space (a copy's
crossbars have its name's id); every other resource (a wire, a switch, a tile's peripherals, the host)
has an id of its own from ``WIRES`` on. The placement rule is the event-by-event one exactly: a task
starts at the earliest time, not before its data, at which none of its resources' busy intervals
overlaps it — a fixed point that does not depend on the order in which the resources are looked at, so
a resource whose last interval ends before the task's data are ready is skipped, and a batch of tasks
on distinct crossbars whose last intervals end before their data are ready starts every task at its
ready time. Crossbar holds are logged; a crossbar's :class:`Timeline` (with the event-by-event path's
merging of touching intervals) is rebuilt from the log only when a task is ready before the crossbar's
last interval ends.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from lergan_cc.sim.schedule import EPS, Timeline


class Lanes:
    def __init__(self, names: int) -> None:
        self.names = names
        self.full = np.zeros(names)
        self.parts = np.zeros(names)
        self.readers = np.zeros(names)
        self.xlast = np.full(names, -np.inf)  # the end of a crossbar's last busy interval
        self.begin(0.0)

    def begin(self, t0: float) -> None:
        """A new state visit: nothing busy, every name ready at ``t0``."""
        self.t0 = self.end = t0
        for a in (self.full, self.parts, self.readers):
            a.fill(t0)
        self.xlast.fill(-np.inf)
        self.wires: dict[int, Timeline] = {}
        self.lines: dict[tuple[int, ...], list[Timeline]] = {}
        self.log_x: list[int] = []
        self.log_s: list[float] = []
        self.log_e: list[float] = []

    # ---- one task --------------------------------------------------------------------------------
    def ready(self, reads: list[int], writes: list[int], parts: list[int]) -> float:
        full, pa, rd = self.full, self.parts, self.readers
        t = self.t0
        for n in reads:
            t = max(t, full.item(n), pa.item(n))
        for n in writes:
            t = max(t, full.item(n), pa.item(n), rd.item(n))
        for n in parts:
            t = max(t, full.item(n), rd.item(n))
        return t

    def lines_of(self, wires: tuple[int, ...]) -> list[Timeline]:
        """The timelines of ``wires`` (made empty on first use in the state; cached per tuple)."""
        lines = self.lines.get(wires)
        if lines is None:
            lines = self.lines[wires] = [self.wires.get(w) or self.wires.setdefault(w, Timeline()) for w in wires]
        return lines

    def slot(self, t: float, ns: float, wires: tuple[int, ...], xbars: tuple[int, ...]) -> float:
        if ns <= 0:
            return t
        lines = [line for line in self.lines_of(wires) if line.ends and line.ends[-1] > t]
        lines += [self.xline(x) for x in xbars if self.xlast.item(x) > t]
        return fit(t, ns, lines) if lines else t

    def place(self, ns: float, wires: tuple[int, ...], xbars: tuple[int, ...], reads: list[int], writes: list[int],
              parts: list[int], after: float = 0.0) -> tuple[float, float]:
        start = max(after, self.ready(reads, writes, parts))
        if ns > 0:
            xlast = self.xlast
            if any(xlast.item(x) > start for x in xbars):  # a crossbar busy after it: every timeline
                start = self.slot(start, ns, wires, xbars)
                end = start + ns
                for line in self.lines_of(wires):
                    hold(line, start, end)
            else:  # the crossbars cannot conflict
                start = occupy(self.lines_of(wires), start, ns)
        end = start + ns
        if ns > 0:
            for x in xbars:
                self.log_x.append(x)
                self.log_s.append(start)
                self.log_e.append(end)
                if end > self.xlast.item(x):
                    self.xlast[x] = end
        self.record(reads, writes, parts, end)
        return start, end

    def record(self, reads: list[int], writes: list[int], parts: list[int], end: float) -> None:
        """What a task ending at ``end`` does to its names' readiness (reads, then writes, then part-writes)."""
        rd, pa = self.readers, self.parts
        for n in reads:
            if end > rd.item(n):
                rd[n] = end
        for n in writes:
            self.full[n], pa[n], rd[n] = end, self.t0, self.t0
        for n in parts:
            if end > pa.item(n):
                pa[n] = end
        if end > self.end:
            self.end = end

    def xline(self, x: int) -> Timeline:
        """Crossbar ``x``'s busy intervals, replayed from the log."""
        line = Timeline()
        log = np.asarray(self.log_x)
        for i in np.flatnonzero(log == x).tolist():
            line.hold(self.log_s[i], self.log_e[i])
        return line

    # ---- a batch of tasks, each on crossbars of its own ------------------------------------------
    def ready_many(self, reads: list[np.ndarray], writes: list[np.ndarray], parts: list[np.ndarray],
                   after: np.ndarray) -> np.ndarray:
        """Per task: the later of ``after`` and its data (each list holds one id array per operand)."""
        t = np.maximum(after, self.t0)
        for ids in reads:
            t = np.maximum(t, np.maximum(self.full[ids], self.parts[ids]))
        for ids in writes:
            t = np.maximum(t, np.maximum(np.maximum(self.full[ids], self.parts[ids]), self.readers[ids]))
        for ids in parts:
            t = np.maximum(t, np.maximum(self.full[ids], self.readers[ids]))
        return t

    def free_at(self, t: np.ndarray, ns: np.ndarray, xbars: np.ndarray) -> np.ndarray:
        """Which tasks can start at ``t`` on their crossbars ``xbars`` without looking at a timeline."""
        return (ns <= 0) | (self.xlast[xbars] <= t)

    def commit_many(self, start: np.ndarray, end: np.ndarray, ns: np.ndarray, xbars: np.ndarray,
                    reads: list[np.ndarray], writes: list[np.ndarray], parts: list[np.ndarray]) -> None:
        """Record a batch placed at ``start``: crossbar holds, then the names' readiness (``max``, so the
        order of the batch does not matter; written names must be distinct)."""
        busy = ns > 0
        if busy.any():
            x = xbars[busy]
            self.log_x += x.tolist()
            self.log_s += start[busy].tolist()
            self.log_e += end[busy].tolist()
            np.maximum.at(self.xlast, x, end[busy])
        for ids in reads:
            np.maximum.at(self.readers, ids, end)
        for ids in writes:
            self.full[ids], self.parts[ids], self.readers[ids] = end, self.t0, self.t0
        for ids in parts:
            np.maximum.at(self.parts, ids, end)
        if len(end):
            self.end = max(self.end, float(end.max()))

    # ---- tasks in sequence whose data do not depend on each other --------------------------------------
    def chain(self, ready: list[float], ns: list[float], wires: list[tuple[int, ...]]) -> list[float]:
        """Place tasks one after another on their wires only (their data and their crossbars are the caller's:
        ``ready`` already holds both); the starts."""
        lines_of = self.lines_of
        return [occupy(lines_of(w), t, d) if d > 0 else t for t, d, w in zip(ready, ns, wires, strict=True)]


def occupy(lines: list[Timeline], t: float, ns: float) -> float:
    """``fit`` over the lines busy after ``t``, then ``hold`` on every line (``ns`` > 0): the start."""
    t = fit(t, ns, lines)
    end = t + ns
    for line in lines:
        hold(line, t, end)
    return t


def fit(t: float, ns: float, lines: list[Timeline]) -> float:
    """The earliest start >= ``t`` at which no interval of ``lines`` overlaps ``[start, start + ns)``
    (``Scheduler.slot``: a fixed point, the same whatever the order of the lines, and whatever the steps
    by which it gets there, as long as each step skips only starts that overlap an interval)."""
    moved = True
    while moved:
        moved = False
        for line in lines:  # Timeline.conflict, inline; a line whose last interval ends by t cannot conflict
            ends = line.ends
            if not ends or ends[-1] <= t:
                continue
            starts = line.starts
            i = bisect_right(starts, t) - 1
            if i >= 0 and ends[i] > t:
                t, moved = ends[i], True
            # then on along this line's gaps too short for the task: every start they skip overlaps an interval
            last = len(starts) - 1
            while i < last and starts[i + 1] < t + ns:
                i += 1
                t, moved = ends[i], True
    return t


def hold(line: Timeline, t: float, end: float) -> None:
    """``Timeline.hold``, with the common case (after every interval) done without a search."""
    starts, ends = line.starts, line.ends
    if not starts:
        starts.append(t)
        ends.append(end)
    elif t >= starts[-1]:  # bisect_right would give len(starts): merge with the last interval or append
        if ends[-1] >= t - EPS:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(t)
            ends.append(end)
    else:
        line.hold(t, end)

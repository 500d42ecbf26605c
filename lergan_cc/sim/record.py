"""Accumulate scheduled tasks into the figures a report gives: by layer and phase, phase, class,
resource, energy component and wire kind; and, when asked, the trace events.

Times of a layer or phase are the length of the union of its tasks' intervals (wall time during
which any of its work runs), summed over state visits, so concurrent phases may add up to more
than the iteration.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lergan_cc.sim.costs import Context, Cost


@dataclass
class Task:
    state: str
    layer: str
    phase: str
    op: str
    label: str
    cost: Cost
    start: float
    end: float
    resources: tuple[str, ...] = ()
    mat: str | None = None


@dataclass
class Group:
    """One layer-and-phase (or one phase): intervals, energy, traffic, crossbar work."""

    intervals: list[tuple[float, float]] = field(default_factory=list)
    energy: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    traffic: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    rounds: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))  # (visit, mat) -> per sample
    rounds_total: int = 0
    xbar_ns: float = 0.0  # crossbars x busy time of its mmvs
    crossbars: dict[str, int] = field(default_factory=dict)  # matrix -> crossbars
    count: int = 0

    def add(self, t: Task, visit: int) -> None:
        c = t.cost
        self.count += 1
        if t.end > t.start:
            self.intervals.append((t.start, t.end))
        for k, v in c.energy.items():
            self.energy[k] += v
        for k, v in c.traffic.items():
            self.traffic[k] += v
        if t.op == "mmv" and t.mat:
            self.rounds[(visit, t.mat)] += c.rounds
            self.rounds_total += c.rounds_total
            self.xbar_ns += c.crossbars * (t.end - t.start)
            self.crossbars[t.mat] = c.crossbars

    @property
    def time_ns(self) -> float:
        return union_length(self.intervals)

    @property
    def energy_pj(self) -> float:
        return sum(self.energy.values())

    @property
    def mmv_rounds(self) -> int:
        """Rounds per sample on the busiest matrix, in the busiest visit: kinds and replicas run in parallel."""
        per_visit: dict[int, int] = defaultdict(int)
        for (visit, _), r in self.rounds.items():
            per_visit[visit] = max(per_visit[visit], r)
        return max(per_visit.values(), default=0)


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total


class Recorder:
    def __init__(self, ctx: Context, trace: bool) -> None:
        self.ctx = ctx
        self.layers: dict[tuple[str, str], Group] = defaultdict(Group)
        self.phases: dict[str, Group] = defaultdict(Group)
        self.classes: dict[str, Group] = defaultdict(Group)
        self.total = Group()
        self.busy: dict[str, float] = defaultdict(float)  # resource -> busy ns
        self.states: list[tuple[str, float, float]] = []
        self.trace = trace
        self.tasks: list[Task] = []
        self.visit = 0

    def task(self, t: Task) -> None:
        self.layers[(t.layer, t.phase)].add(t, self.visit)
        self.phases[t.phase].add(t, self.visit)
        self.classes[t.op].add(t, self.visit)
        self.total.add(t, self.visit)
        for r in t.resources:
            self.busy[r] += t.end - t.start
        if self.trace:
            self.tasks.append(t)

    def busy_by_class(self) -> dict[str, list[float]]:
        """Per resource class (``xbar``, ``htree``, ...), every resource's busy time, in order of first use."""
        out: dict[str, list[float]] = {}
        for r, ns in self.busy.items():
            out.setdefault(r.split(":", 1)[0], []).append(ns)
        return out

    def state(self, name: str, start: float, end: float) -> None:
        self.states.append((name, start, end))
        self.visit += 1

"""The fast timing path's recorder: every task is a row of columns, summed up once at the end.

It gives what :class:`lergan_cc.sim.record.Recorder` gives — the same figures by layer and phase, phase,
class and in total, the busy time of every resource — and *exactly* the same floats: a sum that the
event-by-event recorder builds task by task (``energy[k] += v``) is a sequential ``np.add.accumulate``
over the same values in the same order (never a pairwise ``np.sum``), a union of intervals is the same
walk over the same sorted intervals, and sums the report takes with the built-in ``sum`` are taken with
it. Rows may be appended out of program order (a batch of units at once): each carries the key of the
place its task has in the event-by-event order, and the rows are sorted by it before anything is summed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lergan_cc.sim.costs import Cost
from lergan_cc.sim.record import Task

SHORT = 16  # segments at most this long are summed position by position over all segments at once


@dataclass
class Figures:
    """One layer-and-phase, phase, class or the whole run: the figures a :class:`record.Group` gives."""

    count: int = 0
    time_ns: float = 0.0
    energy: dict[str, float] = field(default_factory=dict)
    traffic: dict[str, float] = field(default_factory=dict)
    mmv_rounds: int = 0
    rounds_total: int = 0
    xbar_ns: float = 0.0
    crossbars: dict[int, int] = field(default_factory=dict)  # matrix copy -> crossbars

    @property
    def energy_pj(self) -> float:
        return sum(self.energy.values())


class Interner:
    """Strings to dense integer ids and back."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.items: list[Any] = []

    def __call__(self, item: Any) -> int:
        i = self.ids.get(item)
        if i is None:
            i = self.ids[item] = len(self.items)
            self.items.append(item)
        return i


class Rows:
    """Task rows. ``res``: a resource id (>= 0) or ``-1 - k`` for resource set ``k`` of ``sets``."""

    COLUMNS = ("key", "group", "op", "start", "end", "cost", "res", "visit", "mat", "label")

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.cols: dict[str, list[Any]] = {c: [] for c in self.COLUMNS}
        self.chunks: list[dict[str, np.ndarray]] = []
        self.groups = Interner()  # (layer, phase)
        self.ops = Interner()
        self.labels = Interner()
        self.costs: list[Cost] = []
        self.cost_ids: dict[int, int] = {}
        self.sets = Interner()  # tuples of resource ids
        self.states: list[tuple[str, float, float]] = []
        self.visit = 0

    def cost_id(self, c: Cost) -> int:
        i = self.cost_ids.get(id(c))
        if i is None:
            i = self.cost_ids[id(c)] = len(self.costs)
            self.costs.append(c)
        return i

    def res_code(self, resources: tuple[int, ...]) -> int:
        return resources[0] if len(resources) == 1 else -1 - self.sets(resources)

    def add(self, key: int, group: int, op: int, start: float, end: float, cost: int, res: int, mat: int,
            label: int) -> None:
        c = self.cols
        c["key"].append(key)
        c["group"].append(group)
        c["op"].append(op)
        c["start"].append(start)
        c["end"].append(end)
        c["cost"].append(cost)
        c["res"].append(res)
        c["visit"].append(self.visit)
        c["mat"].append(mat)
        c["label"].append(label)

    def add_many(self, **columns: Any) -> None:
        """A batch of rows: each column an array (or one value for all)."""
        n = len(columns["key"])
        chunk = {k: np.asarray(v) for k, v in columns.items()}
        for k, v in chunk.items():
            if not v.ndim:
                chunk[k] = np.full(n, v)
        chunk["visit"] = np.full(n, self.visit)
        self.chunks.append(chunk)

    def state(self, name: str, start: float, end: float) -> None:
        self.states.append((name, start, end))
        self.visit += 1

    def table(self) -> dict[str, np.ndarray]:
        """Every column in event-by-event order."""
        dtypes = {"start": np.float64, "end": np.float64}
        out = {}
        for c in self.COLUMNS:
            parts = [np.asarray(self.cols[c], dtype=dtypes.get(c, np.int64))]
            parts += [ch[c].astype(dtypes.get(c, np.int64)) for ch in self.chunks]
            out[c] = np.concatenate(parts)
        order = np.argsort(out["key"], kind="stable")
        return {c: a[order] for c, a in out.items()}


# ---- summing up ---------------------------------------------------------------------------------------
def running_sum(values: np.ndarray) -> float:
    """``total += v`` over ``values`` in order, from 0.0."""
    return float(np.add.accumulate(values)[-1]) if len(values) else 0.0


def union_length(start: np.ndarray, end: np.ndarray) -> float:
    """:func:`record.union_length` over the intervals ``[start, end)`` with ``end > start``."""
    keep = end > start
    s, e = start[keep], end[keep]
    if not len(s):
        return 0.0
    order = np.lexsort((e, s))
    s, e = s[order], e[order]
    before = np.concatenate(([-np.inf], np.maximum.accumulate(e)[:-1]))
    return running_sum(np.where(e > before, e - np.maximum(s, before), 0.0))


def segment_sums(segment: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids in order of first appearance, each one's running sum of its values in order)."""
    if not len(segment):
        return segment, values
    order = np.argsort(segment, kind="stable")
    seg, vals = segment[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
    lengths = np.diff(np.append(starts, len(seg)))
    totals = vals[starts].copy()
    for k in range(1, min(int(lengths.max()), SHORT)):
        more = lengths > k
        totals[more] += vals[starts[more] + k]
    for i in np.flatnonzero(lengths > SHORT):
        totals[i] = running_sum(vals[starts[i]:starts[i] + lengths[i]])
    first = order[starts]  # each segment's first row (the sort is stable), segment ids ascending
    appearance = np.argsort(first, kind="stable")
    return seg[starts][appearance], totals[appearance]


class CostTable:
    """The recorded costs as arrays: energy and traffic by component, rounds, crossbars."""

    def __init__(self, costs: list[Cost]) -> None:
        self.costs = costs
        self.energy_keys = list(dict.fromkeys(k for c in costs for k in c.energy))
        self.traffic_keys = list(dict.fromkeys(k for c in costs for k in c.traffic))
        self.energy = _matrix(costs, self.energy_keys, "energy")
        self.traffic = _matrix(costs, self.traffic_keys, "traffic")
        self.rounds = np.array([c.rounds for c in costs], dtype=np.int64)
        self.rounds_total = np.array([c.rounds_total for c in costs], dtype=np.int64)
        self.crossbars = np.array([c.crossbars for c in costs], dtype=np.int64)


def _matrix(costs: list[Cost], keys: list[str], attr: str) -> np.ndarray:
    col = {k: i for i, k in enumerate(keys)}
    m = np.zeros((len(costs), len(keys)))
    for i, c in enumerate(costs):
        for k, v in getattr(c, attr).items():
            m[i, col[k]] = v
    return m


def figures(t: dict[str, np.ndarray], rows: np.ndarray, table: CostTable, mmv_op: int) -> Figures:
    """The figures of the rows ``rows`` (indices into ``t``, in order)."""
    f = Figures(count=len(rows))
    start, end, cost = t["start"][rows], t["end"][rows], t["cost"][rows]
    f.time_ns = union_length(start, end)
    if len(cost):
        distinct, first = np.unique(cost, return_index=True)
        seen = [table.costs[i] for i in distinct[np.argsort(first)].tolist()]  # in order of first appearance
        f.energy = _sums(cost, table.energy, table.energy_keys, seen, "energy")
        f.traffic = _sums(cost, table.traffic, table.traffic_keys, seen, "traffic")
    mmv = (t["op"][rows] == mmv_op) & (t["mat"][rows] >= 0)
    if mmv.any():
        c, mat, visit = cost[mmv], t["mat"][rows][mmv], t["visit"][rows][mmv]
        f.rounds_total = int(table.rounds_total[c].sum())
        f.xbar_ns = running_sum(table.crossbars[c] * (end[mmv] - start[mmv]))
        pairs, inverse = np.unique(visit * (int(mat.max()) + 1) + mat, return_inverse=True)
        per_pair = np.bincount(inverse.ravel(), weights=table.rounds[c]).astype(np.int64)
        per_visit = np.zeros(int(visit.max()) + 1, dtype=np.int64)
        np.maximum.at(per_visit, pairs // (int(mat.max()) + 1), per_pair)
        f.mmv_rounds = int(per_visit.max())
        mats, last = np.unique(mat[::-1], return_index=True)
        f.crossbars = dict(zip(mats.tolist(), table.crossbars[c[::-1][last]].tolist(), strict=True))
    return f


def _sums(cost: np.ndarray, matrix: np.ndarray, keys: list[str], seen: list[Cost], attr: str) -> dict[str, float]:
    """Per component, ``d[k] += v`` over the rows' costs in order, keys in order of first appearance (``seen``:
    the rows' distinct costs in order of first appearance)."""
    order: list[str] = list(dict.fromkeys(k for c in seen for k in getattr(c, attr)))
    if not order:
        return {}
    col = {k: i for i, k in enumerate(keys)}
    per_key = np.ascontiguousarray(matrix[:, [col[k] for k in order]].T)  # a row per component, a column per cost
    return dict(zip(order, [float(np.add.accumulate(values[cost])[-1]) for values in per_key], strict=True))


def tasks(rows: Rows, t: dict[str, np.ndarray], resource_name: Any) -> list[Task]:
    """The rows as :class:`record.Task` objects (for ``--trace``)."""
    out = []
    states = rows.states
    for i in range(len(t["key"])):
        layer, phase = rows.groups.items[t["group"][i]]
        r = int(t["res"][i])
        res = (r,) if r >= 0 else rows.sets.items[-1 - r]
        out.append(Task(states[t["visit"][i]][0], layer, phase, rows.ops.items[t["op"][i]],
                        rows.labels.items[t["label"][i]], rows.costs[t["cost"][i]], float(t["start"][i]),
                        float(t["end"][i]), tuple(resource_name(x) for x in res)))
    return out


class Summary:
    """What ``report.build_report`` reads of a recorder, computed from the rows: ``layers``, ``phases``,
    ``classes``, ``total``, ``states``, :meth:`busy_by_class`, and ``tasks`` (for a trace)."""

    def __init__(self, rows: Rows, xbars: int, wire_names: list[str], resource_name: Any) -> None:
        self.rows, self.xbars, self.wire_names, self.resource_name = rows, xbars, wire_names, resource_name
        self.states = rows.states
        t = self.t = rows.table()
        table = CostTable(rows.costs)
        mmv = rows.ops.ids.get("mmv", -1)
        self.layers = {rows.groups.items[g]: figures(t, idx, table, mmv) for g, idx in _segments(t["group"])}
        phase_ids = Interner()
        phase_of = np.array([phase_ids(ph) for _, ph in rows.groups.items] or [0], dtype=np.int64)
        self.phases = {phase_ids.items[p]: figures(t, idx, table, mmv) for p, idx in _segments(phase_of[t["group"]])}
        self.classes = {rows.ops.items[o]: figures(t, idx, table, mmv) for o, idx in _segments(t["op"])}
        self.total = figures(t, np.arange(len(t["key"])), table, mmv)
        self._tasks: list[Task] | None = None

    def busy_by_class(self) -> dict[str, list[float]]:
        """Per resource class, every resource's busy time (``+= end - start`` per task), resources in order of
        first use."""
        res, dur = _expand(self.t, self.rows.sets.items)
        ids, totals = segment_sums(res, dur)
        wire_class = np.array([w.split(":", 1)[0] for w in self.wire_names] or [""], dtype=object)
        names = np.where(ids < self.xbars, "xbar", wire_class[np.maximum(ids - self.xbars, 0)]).astype(str)
        out: dict[str, list[float]] = {}
        for cls in dict.fromkeys(names.tolist()):
            out[cls] = totals[names == cls].tolist()
        return out

    @property
    def tasks(self) -> list[Task]:
        if self._tasks is None:
            self._tasks = tasks(self.rows, self.t, self.resource_name)
        return self._tasks


def _segments(values: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(value, row indices in order) for each distinct value, in order of first appearance."""
    if not len(values):
        return []
    order = np.argsort(values, kind="stable")
    v = values[order]
    cuts = np.flatnonzero(v[1:] != v[:-1]) + 1
    pieces = np.split(order, cuts)
    return sorted(((int(values[p[0]]), p) for p in pieces), key=lambda vp: int(vp[1][0]))


def _expand(t: dict[str, np.ndarray], sets: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(resource, end - start) for every resource of every row, rows in order, a row's resources in order."""
    res, dur = t["res"], t["end"] - t["start"]
    lengths = np.array([len(s) for s in sets] + [0], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    flat = np.array([r for s in sets for r in s] + [0], dtype=np.int64)
    single = res >= 0
    k = np.where(single, 0, -1 - res)
    count = np.where(single, 1, lengths[k])
    row = np.repeat(np.arange(len(res)), count)
    pos = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    return np.where(single[row], res[row], flat[offsets[k[row]] + pos]), dur[row]

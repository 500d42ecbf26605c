"""``--trace``: Chrome / Perfetto trace-event JSON of the schedule.

Process 1 holds the FSM: one track of state visits. Process 2 holds one track (thread) per
resource — a matrix copy's crossbars, a wire, a switch, a tile's peripherals, the bus, the host —
with a complete event (``ph: X``) for every task that held it, named after the instruction and
carrying its layer, phase and energy. Timestamps are microseconds, as the format wants.
"""

from __future__ import annotations

import json
from typing import Any

from lergan_cc.sim.record import Recorder

US = 1e-3  # ns -> us


def _meta(pid: int, tid: int, key: str, name: str) -> dict[str, Any]:
    return {"ph": "M", "pid": pid, "tid": tid, "name": key, "args": {"name": name}}


def trace_events(rec: Recorder) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [_meta(1, 0, "process_name", "FSM"), _meta(1, 0, "thread_name", "states"),
                                    _meta(2, 0, "process_name", "resources")]
    for name, start, end in rec.states:
        events.append({"ph": "X", "pid": 1, "tid": 0, "name": name, "cat": "state", "ts": start * US,
                       "dur": (end - start) * US})
    tids: dict[str, int] = {}
    for t in rec.tasks:
        for r in t.resources:
            if r not in tids:
                tids[r] = len(tids) + 1
                events.append(_meta(2, tids[r], "thread_name", r))
            events.append({"ph": "X", "pid": 2, "tid": tids[r], "name": t.label, "cat": t.op,
                           "ts": t.start * US, "dur": (t.end - t.start) * US,
                           "args": {"layer": t.layer, "phase": t.phase, "state": t.state,
                                    "energy_pj": sum(t.cost.energy.values())}})
    return events


def trace_json(rec: Recorder) -> str:
    return json.dumps({"traceEvents": trace_events(rec), "displayTimeUnit": "ns"})

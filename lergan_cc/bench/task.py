"""One run as a self-contained task: the bytes that decide its result travel with it.

A :class:`Task` carries the model file's bytes, the design point's flags, the hardware description's
TOML text and the digest of the compiler the client runs, so any process on any machine with the
same ``lergan_cc`` installed can run it: :func:`run_task` is a pure function of the task that
returns the record and writes nothing but its own temporary files. The client alone stores records
(``cache.py``), under the key the client computed — the same key a ``--hw FILE`` run of the same
bytes has.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lergan_cc.bench import cache, runner, workload
from lergan_cc.bench.configs import Model

REPLICA_COST = {"high": 8, "middle": 3}  # measured: high-replica programs simulate ~10× longer


@dataclass(frozen=True)
class Task:
    model: str
    model_file: str  # the file's name: its suffix picks the front end
    model_bytes: bytes = field(repr=False)
    config: str
    flags: tuple[str, ...]
    batch: int
    functional: bool
    hw_text: str | None  # the hardware description (an ``--hw`` overlay), or None for the defaults
    source: str  # the client's compiler digest: a worker running other code refuses the task
    key: str = ""  # the cache key, computed by the client (``make``)
    label: str = ""  # what progress lines call it

    @property
    def weight(self) -> int:
        """A guess of the cost for scheduling (longest first): replica degree; analyses last."""
        if self.config == runner.ANALYSIS:
            return 0
        flags = self.flags
        degree = flags[flags.index("--replica") + 1] if "--replica" in flags else "low"
        return REPLICA_COST.get(degree, 1)


def make(model: Model, config: str, flags: tuple[str, ...], batch: int, functional: bool, hw_text: str | None,
         label: str = "") -> Task:
    """A task and its cache key (what :meth:`runner.Job.key` gives for the same files)."""
    data = model.path.read_bytes()
    extra: dict[str, Any] = {"batch": batch, "functional": functional}
    if config == runner.ANALYSIS:  # its record carries ``workload.table``'s rows: a change there recomputes it
        extra["workload"] = cache.file_digest(workload.__file__)
    hw_digest = cache.hardware_text_digest(None if hw_text is None else hw_text.encode())
    source = cache.source_digest()
    key = cache.key_of(hashlib.sha256(data).hexdigest(), config, flags, extra, hw_digest, source)
    return Task(model.name, model.path.name, data, config, flags, batch, functional, hw_text, source, key,
                label or f"{model.name} {config}")


def from_job(job: runner.Job) -> Task:
    hw_text = None if job.hw is None else Path(job.hw).read_text(encoding="utf-8")
    return make(job.model, job.config, job.flags, job.batch, job.functional, hw_text)


def run_task(task: Task) -> dict[str, Any]:
    """The record of one task, computed here: the model and hardware are written to a private
    temporary directory and the run goes through :func:`runner.run_job` (the one call to swap for the
    in-process API)."""
    mine = cache.source_digest()
    if task.source != mine:
        return {"model": task.model, "config": task.config, "flags": list(task.flags), "ok": False, "internal": True,
                "error": f"this worker runs another lergan_cc (source digest {mine[:12]}, the client's "
                f"{task.source[:12]}): install the same version on every worker"}
    with tempfile.TemporaryDirectory(prefix="lergan-task-") as tmp:
        model = Path(tmp) / task.model_file
        model.write_bytes(task.model_bytes)
        hw = None
        if task.hw_text is not None:
            hw = Path(tmp) / "hw.toml"
            hw.write_text(task.hw_text, encoding="utf-8")
        job = runner.Job(Model(task.model, model, task.model), task.config, task.flags, task.batch, task.functional,
                         None if hw is None else str(hw))
        record = runner.run_job(job)
    return _without_paths(record, tmp)


def _without_paths(record: dict[str, Any], tmp: str) -> dict[str, Any]:
    """Messages name the temporary files as the user knows them (the model's file name, ``hw``), so a
    record is the same wherever it was computed."""
    def clean(text: str) -> str:
        return text.replace(f"{tmp}/hw.toml", "hw").replace(f"{tmp}/", "")

    if "error" in record:
        record["error"] = clean(record["error"])
    record["warnings"] = [clean(w) for w in record.get("warnings", [])]
    return record

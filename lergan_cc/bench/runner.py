"""One benchmark run (compile with a design point's flags, simulate, read the report) and many in parallel.

A run goes through the same code a user's commands do: the design point's flags are parsed by
``lerganc``'s own argument parser and the program is simulated by ``lergan-sim``'s ``run`` with
``--timing-only --report``, in-process, inside a worker process. Results are cached (``cache.py``).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lergan_cc.bench import cache as cache_mod
from lergan_cc.bench import workload
from lergan_cc.bench.configs import Model
from lergan_cc.errors import LerganError

ANALYSIS = "analysis"  # the pseudo design point of ``lerganc --emit analysis`` (one per model)


@dataclass(frozen=True)
class Job:
    model: Model
    config: str
    flags: tuple[str, ...]
    batch: int = 64
    functional: bool = False
    hw: str | None = None

    def key(self) -> str:
        extra: dict[str, Any] = {"batch": self.batch, "functional": self.functional}
        if self.config == ANALYSIS:  # its record carries ``workload.table``'s rows: a change there recomputes it
            extra["workload"] = cache_mod.file_digest(workload.__file__)
        return cache_mod.key(self.model.path, self.config, self.flags, extra, self.hw)

    def lerganc_args(self) -> list[str]:
        hw = ["--hw", self.hw] if self.hw else []
        return [str(self.model.path), *self.flags, "--batch", str(self.batch), *hw]


def run_job(job: Job) -> dict[str, Any]:
    """A record: the job's identity, ``ok``, and the report (or the one-line ``error``)."""
    record: dict[str, Any] = {"model": job.model.name, "config": job.config, "flags": list(job.flags)}
    log = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(log):
            record.update(_analyse(job) if job.config == ANALYSIS else _simulate(job))
        record["ok"] = True
    except LerganError as e:  # bad input or a design point that does not fit: deterministic, cached
        record.update(ok=False, error=str(e))
    except Exception as e:  # a bug: reported, never cached
        record.update(ok=False, error=f"internal error: {type(e).__name__}: {e}", internal=True)
    record["warnings"] = [ln for ln in log.getvalue().splitlines() if "warning" in ln]
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _analyse(job: Job) -> dict[str, Any]:
    from lergan_cc import analysis
    from lergan_cc.pipeline import compile_model

    g = compile_model(str(job.model.path), _options(job), "analysis")
    return {"analysis": json.loads(analysis.dumps(g)), "work": workload.table(g)}


def _options(job: Job):  # -> Options
    """The compile options exactly as ``lerganc`` builds them from these flags."""
    from lergan_cc.cli.lerganc import build_parser
    from lergan_cc.options import Options

    a = build_parser().parse_args(job.lerganc_args())
    return Options(mode=a.mode, discriminator=a.discriminator, zero_free=a.zero_free, target=a.target,
                   replica=a.replica, hw=a.hw, batch=a.batch)


def _simulate(job: Job) -> dict[str, Any]:
    """Compile once (program + placement), then ``lergan-sim --report`` on the program."""
    from lergan_cc import placement_report
    from lergan_cc.cli import lergan_sim
    from lergan_cc.pipeline import compile_model

    t0 = time.perf_counter()
    g = compile_model(str(job.model.path), _options(job), "fsm")
    place = placement_report.report(g)
    with tempfile.TemporaryDirectory(prefix="lergan-bench-") as tmp:
        program = os.path.join(tmp, "prog.fsm")
        _write_program(g, program, tensors=job.functional)
        del g
        t1 = time.perf_counter()
        report_path = os.path.join(tmp, "report.json")
        timing = [] if job.functional else ["--timing-only"]
        if lergan_sim.run([program, *timing, "--report", report_path]) != 0:
            raise LerganError("lergan-sim failed")
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    t2 = time.perf_counter()
    return {"report": report, "crossbars_used": place["crossbars_used"], "tiles_used": place["tiles_used"],
            "crossbars_by_phase": _by_phase(place["layers"]),
            "compile_s": round(t1 - t0, 3), "simulate_s": round(t2 - t1, 3)}


def _by_phase(layers: list[dict[str, Any]]) -> dict[str, int]:
    """Crossbars holding each phase's matrices (every copy), from the placement report."""
    out: dict[str, int] = {}
    for layer in layers:
        out[layer["phase"]] = out.get(layer["phase"], 0) + layer["crossbars"]
    return out


def _write_program(g: Any, path: str, tensors: bool) -> None:
    """What ``lerganc --emit fsm -o PATH`` writes: the program, and its tensors beside it when the
    simulation computes numbers (``--timing-only`` reads no sidecar, and DCGAN's is 144 MB)."""
    from lergan_cc.cli.common import write_atomic, write_atomic_with
    from lergan_cc.fsm.sidecar import write_npz
    from lergan_cc.passes.emit_fsm import emitted

    program = emitted(g)
    if tensors:
        write_atomic_with(f"{path}.npz", lambda f: write_npz(f, program.tensors))
    write_atomic(path, program.text)


Progress = Callable[[int, int, Job, dict[str, Any], bool], None]


def execute(jobs: list[Job], store: cache_mod.Cache, workers: int, progress: Progress) -> dict[Job, dict[str, Any]]:
    """Every job's record: from the cache when its key is there, else computed in ``workers`` processes."""
    keys = {job: job.key() for job in jobs}
    records: dict[Job, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        hit = store.get(keys[job])
        if hit is None:
            todo.append(job)
        else:
            records[job] = hit
            progress(len(records), len(jobs), job, hit, True)
    for job, record in _compute(todo, workers):
        records[job] = record
        if not record.get("internal"):
            store.put(keys[job], record)
        progress(len(records), len(jobs), job, record, False)
    return records


def _compute(jobs: list[Job], workers: int):
    """Yield (job, record) as they finish; heavy jobs first so the pool ends together."""
    jobs = sorted(jobs, key=_weight, reverse=True)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, run_job(job)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future[dict[str, Any]], Job] = {pool.submit(run_job, j): j for j in jobs}
        for f in as_completed(futures):
            yield futures[f], f.result()


REPLICA_COST = {"high": 8, "middle": 3}  # measured: high-replica programs simulate ~10× longer


def _weight(job: Job) -> int:
    """A guess of a job's cost for scheduling (longest first): replica degree, analyses last."""
    if job.config == ANALYSIS:
        return 0
    degree = job.flags[job.flags.index("--replica") + 1] if "--replica" in job.flags else "low"
    return REPLICA_COST.get(degree, 1)

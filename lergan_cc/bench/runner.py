"""One benchmark run (compile with a design point's options, simulate, read the report) and many in parallel.

A run goes through the library the commands are made of (``lergan_cc.api``): compile in-process, then
simulate timing-only (or functionally) and keep the report, inside a worker process. A design point's
flags (``--zero-free none --target htree-2d ...``, which reproduce the row by hand) map onto the compile
options one to one. Results are cached (``cache.py``).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from lergan_cc.bench import cache as cache_mod
from lergan_cc.bench import workload
from lergan_cc.bench.configs import Model
from lergan_cc.errors import LerganError
from lergan_cc.options import Options

# design-point flag -> compile option (the flags are the reproducible spelling of a row)
FLAG_OPTIONS = {"--zero-free": "zero_free", "--target": "target", "--replica": "replica", "--mode": "mode",
                "--data-parallel": "data_parallel", "--grad-reduce": "grad_reduce", "--bn-sync": "bn_sync",
                "--dp-programming": "dp_programming", "--overlap": "overlap"}

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
    from lergan_cc import api
    from lergan_cc.reports.analysis import analysis

    g, _ = api.lower(str(job.model.path), options_of(job), emit="analysis")
    return {"analysis": analysis(g), "work": workload.table(g)}


def options_of(job: Job) -> Options:
    """The compile options of a job: its design point's flags, batch and hardware file."""
    settings: dict[str, Any] = {}
    for flag, value in zip(job.flags[::2], job.flags[1::2], strict=True):
        if flag not in FLAG_OPTIONS:
            raise LerganError(f"design point {job.config}: unknown flag {flag} (known: {', '.join(FLAG_OPTIONS)})")
        settings[FLAG_OPTIONS[flag]] = int(value) if flag == "--data-parallel" and value.isdigit() else value
    return Options(**settings, hw=job.hw, batch=job.batch)


def _simulate(job: Job) -> dict[str, Any]:
    """Compile once (program + placement), then simulate it (timing-only unless functional) for its report."""
    from lergan_cc import api

    t0 = time.perf_counter()
    program = api.compile_program(str(job.model.path), options_of(job))
    place = program.placement()
    program.graph = None  # the IR is not needed any more: free it before simulating
    t1 = time.perf_counter()
    result = api.simulate(program, timing_only=not job.functional)
    assert result.report is not None
    t2 = time.perf_counter()
    return {"report": result.report, "crossbars_used": place["crossbars_used"], "tiles_used": place["tiles_used"],
            "crossbars_by_phase": _by_phase(place["layers"]),
            "compile_s": round(t1 - t0, 3), "simulate_s": round(t2 - t1, 3)}


def _by_phase(layers: list[dict[str, Any]]) -> dict[str, int]:
    """Crossbars holding each phase's matrices (every copy), from the placement report."""
    out: dict[str, int] = {}
    for layer in layers:
        out[layer["phase"]] = out.get(layer["phase"], 0) + layer["crossbars"]
    return out


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


def _compute(jobs: list[Job], workers: int) -> Iterator[tuple[Job, dict[str, Any]]]:
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

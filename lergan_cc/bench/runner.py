"""One benchmark run: compile with a design point's options, simulate, read the report.

A run goes through the library the commands are made of (``lergan_cc.api``): compile in-process, then
simulate timing-only (or functionally) and keep the report, inside a worker process. A design point's
flags (``--zero-free none --target htree-2d ...``, which reproduce the row by hand) map onto the compile
options one to one. ``task.py`` ships a run to a worker, ``executors.py`` runs many and the client
caches the records (``cache.py``).
"""

from __future__ import annotations

import contextlib
import io
import time
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

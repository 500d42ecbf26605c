"""One benchmark run: compile with a design point's flags, simulate, read the report.

A run goes through the same code a user's commands do: the design point's flags are parsed by
``lerganc``'s own argument parser and the program is simulated by ``lergan-sim``'s ``run`` with
``--timing-only --report``, in-process, inside a worker process (``task.py`` ships a run to a worker,
``executors.py`` runs many; the client caches the records: ``cache.py``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
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
    from lergan_cc.cli.common import write_atomic
    from lergan_cc.fsm.sidecar import npz_bytes
    from lergan_cc.passes.emit_fsm import emitted

    program = emitted(g)
    if tensors:
        write_atomic(f"{path}.npz", npz_bytes(program.tensors))
    write_atomic(path, program.text)

"""``lergan-bench``: the paper's §VI evaluation — Table V benchmarks × design points, tables and plots."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lergan_cc.bench import cache, configs
from lergan_cc.cli.common import ArgumentParser, guarded, write_atomic
from lergan_cc.errors import LerganError
from lergan_cc.limits import int_flag
from lergan_cc.options import MAX_BATCH
from lergan_cc.outputs import Outputs, check_creatable_directory
from lergan_cc.preflight import check_models

if TYPE_CHECKING:
    from lergan_cc.bench import runner


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lergan-bench", description="Run the LerGAN paper's evaluation: benchmarks x design "
                       "points, one training iteration each, beside GPU and FPGA-GAN rooflines (always computed, "
                       "from lergan_cc/bench/baselines.toml), into tables and plots.")
    p.add_argument("--models", metavar="NAMES", help=f"comma-separated: {', '.join(configs.MODELS)}, or .lergan "
                   "files (default: all)")
    p.add_argument("--configs", metavar="NAMES", help=f"comma-separated: {', '.join(configs.CONFIGS)} "
                   "(default: all; prime is always run)")
    p.add_argument("--out", metavar="DIR", default="results", help="output directory (default: results)")
    p.add_argument("--sweep", metavar="SWEEP.toml", help="run a design-space sweep instead (models, design points "
                   "and hardware parameters from the file; docs/scale.md; default: the paper's evaluation)")
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="where runs go: a local process "
                   "pool or a Dask cluster (needs the [dask] extra) (default: local)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="with --executor dask: the cluster's scheduler "
                   "(default: a LocalCluster of --jobs workers on this machine)")
    p.add_argument("--jobs", type=int_flag("--jobs", high=1024),
                   help="local worker processes or LocalCluster workers (default: cores)")
    p.add_argument("--batch", type=int_flag("--batch", high=MAX_BATCH),
                   help="batch size (default: 64, or the sweep file's)")
    p.add_argument("--functional", action="store_true",
                   help="also compute the tensors (slow) (default: off, timing only)")
    p.add_argument("--hw", metavar="HW.toml",
                   help="hardware description passed to lerganc (default: targets/lergan-3d.toml)")
    p.add_argument("--baselines", metavar="FILE", help="TOML overriding the GPU / FPGA-GAN roofline parameters "
                   "(sections [gpu], [fpga-gan]; keys as in lergan_cc/bench/baselines.toml) (default: that file alone)")
    p.add_argument("--cache-dir", metavar="DIR", help=f"result cache (default: {cache.default_dir()})")
    p.add_argument("--no-cache", action="store_true", help="recompute everything and store nothing")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return p


def plan(models: list[configs.Model], names: list[str], batch: int, functional: bool,
         hw: str | None) -> list[runner.Job]:
    """A simulation job per (model, design point), and an analysis job per model (SArray savings)."""
    from lergan_cc.bench import runner

    jobs = [runner.Job(m, c, configs.CONFIGS[c].flags, batch, functional, hw) for m in models for c in names]
    return jobs + [runner.Job(m, runner.ANALYSIS, (), batch, False, hw) for m in models]


def executor_options(args: Any) -> tuple[str, int, str | None]:
    """(executor, workers, scheduler) after the checks that need more than one option."""
    if args.scheduler is not None and args.executor != "dask":
        raise LerganError("--scheduler needs --executor dask")
    if args.scheduler is not None and args.jobs is not None:
        raise LerganError("--jobs sizes a local pool or LocalCluster; with --scheduler the cluster's workers decide")
    return args.executor, args.jobs or os.cpu_count() or 1, args.scheduler


def store_of(args: Any) -> cache.Cache:
    return cache.Cache(None if args.no_cache else Path(args.cache_dir) if args.cache_dir else cache.default_dir())


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    executor = executor_options(args)
    if args.sweep is not None:
        return run_sweep(args, executor)
    args.batch = args.batch or 64
    from lergan_cc.bench import baselines, executors, results, runner, task

    with Outputs.of(args, inputs={"hw": "--hw", "baselines": "--baselines"}, dirs={"out": "--out"}) as out:
        names, models = _selection(args)
        for m in models:
            out.input("--models", str(m.path))
        for name in RESULT_FILES:
            out.file("--out", os.path.join(args.out, name))
        if args.cache_dir and not args.no_cache:
            check_creatable_directory("--cache-dir", args.cache_dir)
        check_models([str(m.path) for m in models], args.hw, args.batch)
        baselines.devices(args.baselines)  # a bad --baselines file fails before any simulation
        start = time.perf_counter()
        jobs = plan(models, names, args.batch, args.functional, args.hw)
        tasks = {job: task.from_job(job) for job in jobs}
        by_key, _ = executors.run(list(tasks.values()), store_of(args), *executor)
        records = {job: by_key[t.key] for job, t in tasks.items()}
        analyses = [records[j] for j in jobs if j.config == runner.ANALYSIS and records[j]["ok"]]
        simulated = [results.make_row(records[j]) for j in jobs if j.config != runner.ANALYSIS]
        roofs = [r for a in analyses for r in baselines.rows(a["model"], a["work"], args.batch, args.baselines)]
        rows = results.compare(simulated + roofs)
        failed = [r for r in rows if r.get("error")] + [records[j] for j in jobs if not records[j]["ok"]
                                                         and j.config == runner.ANALYSIS]
        elapsed = time.perf_counter() - start
        if failed:  # earlier results stay; the runs that worked are in the cache for the next try
            print(f"lergan-bench: {len(failed)} of {len(jobs)} runs failed (first: {failed[0]['model']} "
                  f"{failed[0]['config']}: {failed[0]['error']}); results not written, {args.out}/ unchanged",
                  file=sys.stderr)
            out.discard()
            return 1
        sarray = [results.sarray_row(a) for a in analyses]
        write_outputs(out, Path(args.out), rows, sarray, _meta(args, names, elapsed), not args.no_plots,
                      executor[1])
    print(f"lergan-bench: {len(rows)} runs, {elapsed:.1f} s; results in {args.out}/", file=sys.stderr)
    return 0


RESULT_FILES = ("results.json", "results.csv", "tables.md")  # and the figures, named by bench.plots


def _selection(args: argparse.Namespace) -> tuple[list[str], list[configs.Model]]:
    """The design points and models asked for; an empty selection is an error, not an empty run."""
    for flag, text in (("--models", args.models), ("--configs", args.configs)):
        if text is not None and configs.split_names(text) == []:
            raise LerganError(f"{flag}: no name given (omit {flag} for all)")
    return configs.select_configs(configs.split_names(args.configs)), \
        configs.select_models(configs.split_names(args.models))


def run_sweep(args: Any, executor: tuple[str, int, str | None]) -> int:
    for flag, value in (("--models", args.models), ("--configs", args.configs), ("--baselines", args.baselines)):
        if value is not None:
            raise LerganError(f"{flag} does not apply to --sweep (the sweep file names models and configs)")
    from lergan_cc.bench.sweep import driver

    outcome = driver.run(args.sweep, args.hw, args.batch, args.functional, executor, store_of(args))
    out = Path(args.out)
    for name, content in driver.files(outcome, not args.no_plots).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(str(out / name), content)
    print(f"lergan-bench: {outcome.summary}; results in {out}/", file=sys.stderr)
    return 1 if outcome.failed else 0


def _meta(args: Any, names: list[str], elapsed: float) -> dict[str, Any]:
    from lergan_cc.bench import baselines

    return {"batch": args.batch, "timing_only": not args.functional, "iterations": 1, "hw": args.hw,
            "configs": {n: list(configs.CONFIGS[n].flags) for n in names}, "source": cache.source_digest(),
            "baselines": {n: vars(d) for n, d in baselines.devices(args.baselines).items()},
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "wall_s": round(elapsed, 2)}


def write_outputs(staged: Outputs, out: Path, rows: list[dict[str, Any]], sarray: list[dict[str, Any]],
                  meta: dict[str, Any], plots: bool, workers: int = 1) -> None:
    """results.json, results.csv, tables.md and (unless disabled) the PNG figures (drawn by ``workers``
    processes) into ``out``, staged."""
    from lergan_cc.bench import directions, paper, results, tables

    verdicts, pairs = directions.evaluate(rows), paper.side_by_side(rows, sarray)
    files: dict[str, str | bytes] = {
        "results.json": results.to_json(rows, meta, sarray=sarray, directions=verdicts, paper=pairs),
        "results.csv": results.to_csv(rows)}
    head = ["## The paper's numbers beside ours\n", paper.markdown(pairs),
            "## The paper's directions\n", directions.markdown(verdicts)]
    files["tables.md"] = tables.markdown(rows, sarray, "\n".join(head))
    if plots:
        from lergan_cc.bench import plots as plot_mod

        files.update(plot_mod.figures(rows, sarray, workers))
    write = staged.writer(str(out))
    assert write is not None
    for name, data in files.items():
        write(name, data)


def main(argv: list[str] | None = None) -> int:
    return guarded("lergan-bench", lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())

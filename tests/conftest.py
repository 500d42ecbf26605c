"""Shared helpers: run the installed command-line tools as a user would."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from lergan_cc import api
from lergan_cc.ir.graph import Graph
from lergan_cc.options import Options
from lergan_cc.sim import fast, workers

ROOT = Path(__file__).resolve().parents[1]

# The tools the install put beside this interpreter come first on PATH, so that `VENV/bin/python -m pytest`
# runs this installation's lerganc (not another one, or none) without the venv being activated.
os.environ["PATH"] = os.pathsep.join((sysconfig.get_path("scripts"), os.environ.get("PATH", "")))
EXAMPLES = ROOT / "examples"
BENCHMARKS = ("dcgan", "cgan", "3dgan", "artgan_cifar10", "gpgan", "magan_mnist", "discogan_4pairs",
              "discogan_5pairs")


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Bad input: exit status 2, exactly one line on stderr, no traceback, each needle in it."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def example() -> type:
    return type("Examples", (), {"path": staticmethod(lambda name: EXAMPLES / f"{name}.lergan")})


def lower(model: str | Path, options: Options, emit: str = "ir", stop_after: str | None = None) -> Graph:
    """The IR of ``model`` after the passes ``emit`` needs (up to ``stop_after``)."""
    return api.lower(str(model), options, emit=emit, stop_after=stop_after)[0]


def compiled(model: str | Path, options: Options) -> api.Program:
    """The program of ``model`` compiled with ``options``."""
    return api.compile_program(str(model), options)


def run_pass(name: str, g: Graph, options: Options) -> Graph:
    """One pass on ``g`` as the pass manager runs it (contracts checked, IR verified after it)."""
    from lergan_cc.context import CompileContext
    from lergan_cc.pipeline import Instruments, resolve, run_passes

    return run_passes(resolve([name], options), g, CompileContext.create(options), Instruments(log=lambda _: None))


@contextlib.contextmanager
def three_parts() -> Iterator[None]:
    """The simulator's peripherals cut every array into three parts (of the batch, of the rows), however
    small the arrays and however many cores: combining the parts is tested on any machine."""
    with mock.patch.object(workers, "workers", lambda: 3), mock.patch.object(fast, "PARALLEL_COPY_BYTES", 0):
        yield

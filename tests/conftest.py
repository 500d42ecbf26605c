"""Shared helpers: run the installed command-line tools as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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

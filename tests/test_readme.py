"""README.md holds exactly two set-up commands; the main job's part after the install runs as written."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    blocks = re.findall(r"```\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks if b.strip().startswith("python -m pip install")]


def test_exactly_two_setup_commands() -> None:
    run, test = commands()
    assert run.startswith("python -m pip install -e . && ")
    assert test == 'python -m pip install -e ".[test]" && python -m pytest'
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_main_job_runs(tmp_path: Path) -> None:
    job = commands()[0].split(" && ", 1)[1]
    os.symlink(ROOT / "examples", tmp_path / "examples")
    proc = subprocess.run(job, shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "loss_d=" in proc.stdout and "loss_g=" in proc.stdout


def test_dag_generator_lines_run(tmp_path: Path) -> None:
    """The tools section's line for each DAG generator example runs as written."""
    text = (ROOT / "README.md").read_text()
    items = re.findall(r"^- `(lerganc examples/onnx/(?:cyclegan|unet|resize)_g\.onnx[^`]*)`", text, flags=re.M | re.S)
    assert len(items) == 3
    os.symlink(ROOT / "examples", tmp_path / "examples")
    for item in items:
        proc = subprocess.run(" ".join(item.split()), shell=True, cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, (item, proc.stderr)

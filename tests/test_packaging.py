"""The project installs as a regular wheel into a fresh virtual environment, not only editable."""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str | os.PathLike[str], cwd: Path) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
        ROOT, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("lergan_cc-*.whl"))
    env_dir = tmp_path / "venv"
    # system site packages give the venv the dependencies without a download
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    run(py, "-m", "pip", "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    where = run(py, "-c", "import lergan_cc.passes, lergan_cc.grammar, lergan_cc.targets as t; print(t.__file__)",
                cwd=tmp_path)
    assert str(env_dir) in where, "the wheel's copy must be imported, not the editable checkout"
    polluted = subprocess.run([py, "-c", "import passes"], cwd=tmp_path, capture_output=True)
    assert polluted.returncode != 0, "passes/ must only be importable as lergan_cc.passes"
    out = run(env_dir / "bin" / "lerganc", ROOT / "examples" / "dcgan.lergan", "--stop-after", "import",
              "--emit", "ir", cwd=tmp_path)
    assert "%G2 = tconv" in out
    devices = run(py, "-c", "from lergan_cc.bench import baselines; print(sorted(baselines.devices()))", cwd=tmp_path)
    assert devices.strip() == "['fpga-gan', 'gpu']", "the wheel must ship lergan_cc/bench/baselines.toml"
    sweep = run(py, "-c", "import lergan_cc.bench.sweep.driver as d; print(d.__file__)", cwd=tmp_path)
    assert str(env_dir) in sweep, "the wheel must ship lergan_cc.bench.sweep"

"""The project installs as a regular wheel into a fresh virtual environment, as a user installs it.

The venv has no system site packages: the wheel's dependencies come from the package registry, the
way a user's ``pip install`` gets them. When the registry cannot be reached the test is skipped and
says so; it never borrows the running interpreter's packages.
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# pip's words for "the network or the index is not there" (not for a dependency that does not resolve)
OFFLINE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
           "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError", "No route to host",
           "Max retries exceeded")


def run(*cmd: str | os.PathLike[str], cwd: Path) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def source_copy(dest: Path) -> Path:
    """The tracked sources (not build/, caches or venvs), so building never writes into the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    names = [n for n in listed.stdout.decode().split("\0") if n] if listed.returncode == 0 else []
    if not names:  # not a git checkout (an sdist): everything but the usual litter
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", ".*", "__pycache__"))
        return dest
    for name in names:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def install_from_registry(py: Path, wheel: Path, cwd: Path) -> None:
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], cwd=cwd, capture_output=True,
                          text=True)
    if proc.returncode != 0 and any(word in proc.stderr for word in OFFLINE):
        pytest.skip("the package registry is unreachable: cannot install the wheel's dependencies like a user")
    assert proc.returncode == 0, f"pip install {wheel.name}\n{proc.stdout}\n{proc.stderr}"


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    src = source_copy(tmp_path / "src")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
        src, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("lergan_cc-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=True)
    py = env_dir / "bin" / "python"
    install_from_registry(py, wheel, tmp_path)
    sites = run(py, "-c", "import sys; print(*(p for p in sys.path if p.endswith('-packages')), sep='\\n')",
                cwd=tmp_path).split()
    assert sites and all(p.startswith(str(env_dir)) for p in sites), f"the venv borrows packages: {sites}"
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

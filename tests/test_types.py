"""The package type-checks (mypy) and lints (ruff). mypy reads the package as installed: ``passes/``,
``targets/`` and ``grammar/`` are the subpackages ``lergan_cc.passes`` etc. (pyproject's ``package-dir``), so
mypy reads a tree of links in that layout. A ``# type: ignore`` needs a reason beside it; an unused one is an
error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("passes", "targets", "grammar")


def installed_layout(into: Path) -> Path:
    package = into / "lergan_cc"
    package.mkdir()
    for entry in (ROOT / "lergan_cc").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name in MAPPED:
        (package / name).symlink_to(ROOT / name)
    return package


def test_mypy_finds_no_error(tmp_path: Path) -> None:
    installed_layout(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "mypy", "-p", "lergan_cc", "--config-file",
                           str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / ".mypy_cache")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_type_ignore_says_why() -> None:
    bare = [f"{path.relative_to(ROOT)}:{n}" for top in ("lergan_cc", *MAPPED) for path in (ROOT / top).rglob("*.py")
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"# type: ignore(\[[^\]]*\])?\s*$", line)]
    assert not bare, f"a type: ignore without a reason: {bare}"


def test_ruff_finds_nothing() -> None:
    """The whole repository is ruff clean under pyproject's rules (a merge can leave an import block
    unsorted without any other test noticing)."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Run the golden filecheck tests under lit, so the one pytest command covers them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LIT_DIR = Path(__file__).parent / "filecheck"


def test_lit_golden_files() -> None:
    lit = shutil.which("lit")
    if lit is None or shutil.which("filecheck") is None:
        pytest.fail("lit and filecheck must be installed (pip install -e '.[test]')")
    jobs = "2"
    proc = subprocess.run([lit, "-q", "-j", jobs, str(LIT_DIR)], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr

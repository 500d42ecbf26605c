"""``lergan-sim`` runs with numpy's transparent-huge-page advice off unless the environment asks for it
(``lergan_cc.cli.lergan_sim.console``; the reason and the figures: docs/performance.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lergan_cc.cli.lergan_sim import HUGEPAGE_ADVICE

# the command as its console entry runs it, with the tool's own run replaced by a report of numpy's advice
# (``_set_madvise_hugepage`` returns the setting it replaces: numpy has no public getter)
PROBE = """
import lergan_cc.cli.lergan_sim as sim
def report(prog, main):
    import numpy
    print(numpy._core.multiarray._set_madvise_hugepage(False))
sim.as_command = report
sim.console()
"""


def _advice(env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises huge pages on Linux only")
def test_the_command_turns_numpys_huge_page_advice_off_unless_asked() -> None:
    env = {k: v for k, v in os.environ.items() if k != HUGEPAGE_ADVICE}
    assert _advice(env) == "False"
    assert _advice({**env, HUGEPAGE_ADVICE: "1"}) == "True"


def test_the_command_module_does_not_import_numpy() -> None:
    """The advice is read when numpy is imported: after ``console`` has set it, so not by the import."""
    code = "import sys, lergan_cc.cli.lergan_sim; print('numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr

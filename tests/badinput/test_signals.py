"""Killed while it writes: a compile interrupted at any moment leaves no temporary and a consistent pair.

``lerganc`` writes a program and its sidecar (DCGAN's is 144 MB) as a pair: both are staged, then
renamed with signals held off, sidecar first, and the program records the sidecar's digest. SIGINT or
SIGTERM at any time must leave the earlier pair (or the new one, whole) and no ``.lergan-tmp-`` file.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from lergan_cc.outputs import TMP_MARK
from lergan_cc.sim.loader import load_program
from tests.badinput.conftest import LONG
from tests.badinput.harness import LEDGER, tool_path

DCGAN = Path(__file__).resolve().parents[2] / "examples" / "dcgan.lergan"
KILLS = 16 if LONG else 4
EXIT = {signal.SIGINT: (130, -2), signal.SIGTERM: (143, -15)}  # handled, or killed before the handler was set


@pytest.mark.parametrize("k", range(KILLS))
def test_a_killed_compile_leaves_a_whole_pair_and_no_temporary(
    k: int, seed_files: dict[str, bytes], tmp_path: Path
) -> None:
    (tmp_path / "out.fsm").write_bytes(seed_files["gan.fsm"])
    (tmp_path / "out.fsm.npz").write_bytes(seed_files["gan.fsm.npz"])
    sig = (signal.SIGINT, signal.SIGTERM)[k % 2]
    delay = 0.6 + 1.8 * k / max(1, KILLS - 1)  # from the passes to past the renames
    proc = subprocess.Popen(
        [tool_path("lerganc"), str(DCGAN), "-o", "out.fsm"], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    leftovers = [p.name for p in tmp_path.iterdir() if TMP_MARK in p.name]
    program, _ = load_program(str(tmp_path / "out.fsm"))  # raises if the pair does not belong together
    # A signal during the renames waits for them: the run may end interrupted with the new pair in place.
    kept = (
        not leftovers
        and "Traceback" not in err
        and proc.returncode in (0, *EXIT[sig])
        and (proc.returncode != 0 or program.model == "dcgan")
    )
    LEDGER.append((f"{sig.name} after {delay:.2f} s", False, kept))
    assert kept, (proc.returncode, err, leftovers, program.model)

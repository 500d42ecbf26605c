"""A dense layer's weight gradient writes the longer of x and dy into the crossbars and streams the
shorter: min(in, units) MMV rounds per sample (DCGAN D5, 16384 -> 1: one round, not 16384)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLES, run_cli


def test_dcgan_d5_weight_gradient_takes_one_round(tmp_path: Path) -> None:
    prog, report = tmp_path / "d.fsm", tmp_path / "r.json"
    compiled = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--replica", "none", "--batch", "2", "-o", prog)
    assert compiled.returncode == 0, compiled.stderr
    proc = run_cli("lergan-sim", prog, "--timing-only", "--report", report)
    assert proc.returncode == 0, proc.stderr
    layers = json.loads(report.read_text())["layers"]
    rounds = {(r["layer"], r["phase"]): r["mmv_rounds"] for r in layers}
    assert rounds[("D5", "D_wgrad")] == 1
    assert rounds[("G1", "G_wgrad")] == 100  # G1 is 100 -> 16384: the 100 noise values are streamed

"""`lerganc --emit analysis` (DESIGN §8 fields) reproduces the paper's DCGAN numbers end to end."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, run_cli

FIELDS = {"layer", "phase", "op", "input_shape", "output_shape", "kernel", "stride", "pads", "output_padding",
          "zero_inserted_inputs", "useful_inputs", "macs_zero_inserted", "macs_useful", "efficiency", "zfdr"}


def test_emit_analysis_dcgan() -> None:
    proc = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--emit", "analysis")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model"] == "dcgan"
    assert all(set(row) >= FIELDS for row in doc["layers"])
    g2 = next(r for r in doc["layers"] if r["layer"] == "G2" and r["phase"] == "G_fwd")
    assert (g2["zero_inserted_inputs"], g2["useful_inputs"]) == (147456, 16384)
    assert (g2["macs_zero_inserted"], g2["macs_useful"]) == (1638400 * 512, 295936 * 512)
    assert round(g2["efficiency"], 4) == 0.1806
    assert g2["zfdr"] == {"kinds": 25, "corner": 9, "edge": 12, "inside": 4, "max_reuse": 9, "rounds": 9,
                          "rounds_without": 64}
    assert round(doc["totals"]["phases"]["G_fwd"]["input_ratio"], 2) == 5.19
    d1 = next(r for r in doc["layers"] if r["layer"] == "D1" and r["phase"] == "D_wgrad")
    assert (d1["zfdr"]["corner"], d1["zfdr"]["edge"], d1["zfdr"]["inside"]) == (4, 4, 1)
    phases = {r["phase"] for r in doc["layers"]}
    assert phases == {"G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad"}


def test_emit_analysis_single_network_inference() -> None:
    proc = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--mode", "infer", "--emit", "analysis")
    doc = json.loads(proc.stdout)
    assert {r["phase"] for r in doc["layers"]} == {"fwd"}
    assert [r["layer"] for r in doc["layers"]] == ["G2", "G3", "G4", "G5"]

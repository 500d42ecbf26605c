"""lergan-sim's report, trace and timing-only path on a small GAN (the ONNX DCGAN example at batch 2)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lergan_cc.cli.lergan_sim import main as sim
from lergan_cc.cli.lerganc import main as lerganc
from lergan_cc.sim.driver import SimOptions, simulate
from lergan_cc.sim.loader import load_program
from lergan_cc.sim.report import build_report

ONNX = Path(__file__).resolve().parent.parent / "examples" / "onnx"


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gan") / "gan.fsm"
    assert lerganc([str(ONNX / "dcgan_g.onnx"), "--discriminator", str(ONNX / "dcgan_d.onnx"), "--batch", "2",
                    "-o", str(out)]) == 0
    return out


def test_timing_only_gives_the_functional_times(gan: Path) -> None:
    """--timing-only skips the arithmetic; the schedule, times and energies are the same."""
    program, params = load_program(str(gan))
    full = simulate(program, str(gan), params, SimOptions(iterations=2, timing=True))
    alone = simulate(program, str(gan), {}, SimOptions(iterations=2, timing_only=True))
    a, b = build_report(full.timing, full.iterations), build_report(alone.timing, alone.iterations)
    assert full.losses and not alone.losses and a["iterations"] == b["iterations"] == 2
    for key in ("time_ns", "energy_pj", "phases", "layers", "energy_breakdown", "traffic", "states"):
        assert a[key] == b[key], key


def test_timing_only_needs_no_sidecar(gan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = tmp_path / "alone.fsm"
    prog.write_text(gan.read_text())
    report = tmp_path / "r.json"
    assert sim([str(prog), "--timing-only", "--report", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["time_ns"] > 0 and rep["energy_pj"] > 0 and rep["iterations"] == 1
    assert sum(rep["energy_breakdown"].values()) == pytest.approx(rep["energy_pj"])
    out = capsys.readouterr().out
    assert "time" in out and "phase" in out and "bytes x hops" in out


def test_trace_has_states_and_a_track_per_resource(gan: Path, tmp_path: Path) -> None:
    trace, report = tmp_path / "t.json", tmp_path / "r.json"
    assert sim([str(gan), "--timing-only", "--trace", str(trace), "--report", str(report)]) == 0
    events = json.loads(trace.read_text())["traceEvents"]
    states = [e for e in events if e["ph"] == "X" and e["pid"] == 1]
    tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 2}
    assert [e["name"] for e in states][:2] == ["init", "d.g_fwd"]
    assert any(t.startswith("xbar:") for t in tracks) and "bus" in tracks and "host" in tracks
    assert any(t.startswith("vertical:") for t in tracks)
    work = [e for e in events if e["ph"] == "X" and e["pid"] == 2]
    assert work and all(e["dur"] >= 0 and e["ts"] >= 0 for e in work)
    end_us = json.loads(report.read_text())["time_ns"] * 1e-3
    assert max(e["ts"] + e["dur"] for e in work) <= end_us * (1 + 1e-9)
    spans: dict[int, list[tuple[float, float]]] = {}
    for e in work:
        spans.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for tid, s in spans.items():  # a resource holds one task at a time
        s.sort()
        assert all(b[0] >= a[1] - 1e-6 for a, b in itertools.pairwise(s)), tid

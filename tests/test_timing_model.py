"""The timing and energy model: the paper's directions (§VI) and the issue's golden rounds.

Programs are compiled at the paper's batch of 64 and costed with the timing model alone, straight
from the emitter's typed program (the text round trip is tested elsewhere).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from lergan_cc.options import Options
from lergan_cc.sim.driver import SimOptions, simulate
from lergan_cc.sim.report import build_report
from tests.conftest import compiled

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@cache
def report(model: str, zero_free: str = "zfdr", target: str = "lergan-3d", replica: str = "none",
           batch: int = 64) -> dict[str, Any]:
    options = Options(zero_free=zero_free, target=target, replica=replica, batch=batch)
    program = compiled(str(EXAMPLES / f"{model}.lergan"), options).fsm
    result = simulate(program, f"{model}.fsm", {}, SimOptions(timing_only=True))
    return build_report(result.timing, result.iterations)


def layer(rep: dict[str, Any], name: str, phase: str) -> dict[str, Any]:
    return next(v for v in rep["layers"] if v["layer"] == name and v["phase"] == phase)


def test_dcgan_g2_rounds_zfdr_vs_normal() -> None:
    """DESIGN §5: G2's ZFDR kinds take 9 MMV rounds per sample instead of 64; the iteration is faster."""
    zfdr, none = report("dcgan"), report("dcgan", zero_free="none")
    assert layer(zfdr, "G2", "G_fwd")["mmv_rounds"] == 9
    assert layer(none, "G2", "G_fwd")["mmv_rounds"] == 64
    assert zfdr["time_ns"] < none["time_ns"]
    assert layer(zfdr, "G2", "G_fwd")["time_ns"] < layer(none, "G2", "G_fwd")["time_ns"]


@pytest.mark.parametrize("model", ["dcgan", "cgan", "gpgan", "3dgan"])
def test_zfdr_beats_normal_reshape(model: str) -> None:
    """Fig. 18: on the T-CONV-heavy benchmarks zero-free reshaping is faster and cheaper than normal reshaping."""
    zfdr, none = report(model), report(model, zero_free="none")
    assert zfdr["time_ns"] < none["time_ns"]
    assert zfdr["energy_pj"] < none["energy_pj"]


def test_3d_moves_fewer_bytes_hops_than_htree() -> None:
    """Fig. 17: the 3-D connection moves the same model's data over fewer hops than the H-tree."""
    three, two = report("dcgan"), report("dcgan", target="htree-2d")
    assert sum(three["traffic"].values()) < sum(two["traffic"].values())
    assert three["traffic"]["vertical"] > 0 and two["traffic"]["vertical"] == 0
    assert three["traffic"]["bus"] < two["traffic"]["bus"]


def test_more_replicas_less_time_more_energy() -> None:
    """§VI-C: more duplication is faster and costs more energy (every copy is rewritten on each update)."""
    reps = [report("dcgan", replica=r) for r in ("none", "low", "middle", "high")]
    times = [r["time_ns"] for r in reps]
    energies = [r["energy_pj"] for r in reps]
    assert times == sorted(times, reverse=True) and times[0] > times[-1]
    assert energies == sorted(energies) and energies[0] < energies[-1]


def test_energy_breakdown_sums_to_total() -> None:
    for rep in (report("dcgan"), report("dcgan", zero_free="none", target="htree-2d")):
        assert sum(rep["energy_breakdown"].values()) == pytest.approx(rep["energy_pj"], rel=1e-9)
        assert sum(rep["compute_breakdown"].values()) == pytest.approx(rep["energy_breakdown"]["compute"],
                                                                       rel=1e-9)
        assert sum(v["energy_pj"] for v in rep["layers"]) == pytest.approx(rep["energy_pj"], rel=1e-9)


def test_report_fields() -> None:
    """DESIGN §8 fields, with per-layer rounds, utilization and traffic by wire kind."""
    rep = report("dcgan")
    for key in ("time_ns", "energy_pj", "phases", "layers", "energy_breakdown", "utilization", "traffic"):
        assert key in rep
    assert set(rep["traffic"]) == {"htree", "horizontal", "vertical", "bypass", "bus"}
    assert {"G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad"} <= set(rep["phases"])
    g2 = layer(rep, "G2", "G_fwd")
    assert 0 < g2["crossbar_utilization"] <= 1 and g2["time_ns"] > 0 and g2["energy_pj"] > 0
    assert 0 < rep["utilization"]["crossbar_busy"] <= 1
    assert rep["time_ns"] == pytest.approx(rep["states"][-1]["end_ns"])


def test_batch_scales_compute_not_rounds() -> None:
    small, big = report("dcgan", batch=8), report("dcgan")
    assert layer(small, "G2", "G_fwd")["mmv_rounds"] == layer(big, "G2", "G_fwd")["mmv_rounds"] == 9
    assert layer(big, "G2", "G_fwd")["mmv_rounds_total"] > layer(small, "G2", "G_fwd")["mmv_rounds_total"]

"""The GPU and FPGA-GAN baselines of lergan-bench: the iteration's work table and the roofline over it.

The work table is checked against closed forms counted here by brute force (useful MACs of a
strided convolution per axis), against the identity that a layer's input and weight gradients
do exactly as many useful MACs as its forward pass, and against the iteration of docs/ISA.md.
"""

from __future__ import annotations

import json
from math import prod
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.bench import baselines, directions, results, workload
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import SConv
from lergan_cc.options import Options
from tests.conftest import assert_one_line_error, lower, run_cli

TINY_GAN = """gan {
  generator     "10f-(16t-8t)(4k2s)-t1"
  discriminator "(1c-8c-16c)(4k2s)-f1"
  item 8x8
}
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    path = tmp_path_factory.mktemp("tiny") / "tiny.lergan"
    path.write_text(TINY_GAN, encoding="utf-8")
    return lower(str(path), Options(batch=4), "analysis")


@pytest.fixture(scope="module")
def work(graph: Graph) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in workload.table(graph)}


def _useful_taps(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """(output position, tap) pairs of one axis that land on a real input value, counted one by one."""
    return sum(0 <= o * stride - pad + k * dilation < size for o in range(out) for k in range(kernel))


def test_sconv_macs_are_the_brute_force_count(graph: Graph, work: dict[str, dict[str, Any]]) -> None:
    convs = [op for op in graph.ops() if isinstance(op, SConv)]
    assert convs
    for op in convs:
        (c_in, *size) = graph.input_shapes(op)[0]
        taps = prod(_useful_taps(size[a], op.kernel[a], op.stride[a], op.pads[a], op.dilation[a], op.shape[1 + a])
                    for a in range(op.rank))
        assert work[op.name]["macs"] == taps * c_in // op.group * op.shape[0], op.name


def test_every_gradient_does_the_forward_macs(graph: Graph, work: dict[str, dict[str, Any]]) -> None:
    """Each useful product x·w of a forward layer is one product of its input gradient and one of its
    weight gradient, so the three phases of a layer count the same useful MACs."""
    by_layer: dict[str, set[int]] = {}
    for op in graph.ops():
        if op.OP in ("sconv", "tconv", "wconv", "dense", "wdense"):
            by_layer.setdefault(op.layer, set()).add(work[op.name]["macs"])
    assert len(by_layer) == 6
    assert all(len(m) == 1 and next(iter(m)) > 0 for m in by_layer.values()), by_layer


def test_dense_rows_and_runs(work: dict[str, dict[str, Any]]) -> None:
    g1 = work["G1"]
    assert (g1["macs"], g1["act_values"], g1["param_values"], g1["runs"]) == (640, 10 + 64, 640 + 64, 2)
    wg = work["G1.wgrad"]  # dW = x^T dy: one product per weight, writes the weight-shaped gradient once a batch
    assert (wg["macs"], wg["act_values"], wg["param_values"], wg["runs"]) == (640, 10 + 64, 640, 1)
    assert work["D3"]["runs"] == 3 and work["D3.wgrad"]["runs"] == 2  # D on real, fake, fake; D_wgrad real+fake
    assert work["D2.err"]["runs"] == 3 and work["D1.err"]["runs"] == 1  # D's input gradient: the G step only
    assert work["G3.err"]["runs"] == 1 and work["G2.wgrad"]["runs"] == 1
    assert "G1.reshape" not in work and "loss" not in work  # views and host values move nothing


def test_sgd_rows_cover_the_trained_parameters(graph: Graph, work: dict[str, dict[str, Any]]) -> None:
    for net in ("G", "D"):
        trained = [p for n, p in graph.params.items() if n.startswith(f"{net}/") and not n.endswith((".mean", ".var"))]
        assert work[f"{net}.sgd"]["param_values"] == 3 * sum(prod(p.shape) for p in trained)
        assert work[f"{net}.sgd"]["phase"] == "update"


DEVICE = baselines.Device("toy", "Toy", macs_per_s=1e9, bytes_per_s=1e9, value_bytes=2, power_w=10.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**5), st.integers(0, 10**6), st.integers(1, 3), st.integers(1, 64))
def test_roofline_is_the_larger_of_compute_and_memory(macs: int, acts: int, params: int, runs: int,
                                                       batch: int) -> None:
    op = {"name": "x", "phase": "G_fwd", "macs": macs, "act_values": acts, "param_values": params, "runs": runs}
    r = baselines.roofline(DEVICE, [op], batch)
    compute_ns, memory_ns = batch * macs, 2 * (batch * acts + params)  # 1 GMAC/s, 1 GB/s: 1 ns per MAC/byte
    assert r["time_ns"] == pytest.approx(runs * max(compute_ns, memory_ns))
    assert r["energy_pj"] == pytest.approx(r["time_ns"] * 10.0 * 1e3)  # 10 W for t ns = 10 t nJ
    assert r["phases"]["G_fwd"]["time_ns"] == pytest.approx(r["time_ns"])
    if r["time_ns"]:
        assert r["compute_bound_share"] == (1.0 if compute_ns >= memory_ns else 0.0)


def test_roofline_sums_phases_and_weighs_runs() -> None:
    ops = [{"name": "a", "phase": "G_fwd", "macs": 100, "act_values": 0, "param_values": 0, "runs": 2},
           {"name": "b", "phase": "D_fwd", "macs": 0, "act_values": 0, "param_values": 50, "runs": 3}]
    r = baselines.roofline(DEVICE, ops, batch=1)
    assert r["phases"]["G_fwd"]["time_ns"] == pytest.approx(200.0)
    assert r["phases"]["D_fwd"]["time_ns"] == pytest.approx(300.0)
    assert r["compute_bound_share"] == pytest.approx(0.4)


def test_devices_are_the_cited_peaks() -> None:
    d = baselines.devices()
    assert set(d) == {"gpu", "fpga-gan"}
    assert 2 * d["gpu"].macs_per_s == pytest.approx(10.97e12, rel=1e-3)  # Titan X (Pascal): 11 TFLOPS FP32
    assert d["fpga-gan"].macs_per_s == pytest.approx(6840 * 200e6)  # VU9P DSP slices at 200 MHz


def test_baseline_rows_compare_with_every_design_point(graph: Graph) -> None:
    rows = baselines.rows("tiny", workload.table(graph), batch=4)
    assert [r["config"] for r in rows] == ["gpu", "fpga-gan"]
    sim = {"model": "tiny", "config": "lergan-low", "time_ns": rows[0]["time_ns"] / 4, "energy_pj": 1.0,
           "phases": {}, "crossbars_by_phase": {}}
    out = {r["config"]: r for r in results.compare([sim, *rows])}
    assert out["lergan-low"]["speedup_vs_gpu"] == pytest.approx(4.0)
    assert out["gpu"]["speedup_vs_gpu"] == 1.0
    assert out["fpga-gan"]["speedup_vs_gpu"] == pytest.approx(rows[0]["time_ns"] / rows[1]["time_ns"])
    assert out["lergan-low"]["energy_saving_vs_fpga"] == pytest.approx(rows[1]["energy_pj"])


def _rows(speedups: dict[str, float], energy_vs_fpga: dict[str, float] | None = None) -> list[dict[str, Any]]:
    return [{"model": m, "config": c, "speedup_vs_gpu": s, "speedup_vs_fpga": s,
             "energy_saving_vs_fpga": (energy_vs_fpga or {}).get(m)}
            for m, s in speedups.items() for c in directions.LEVELS]


def test_non_pim_directions_hold_and_fail() -> None:
    checks = {name: check for name, (_, check) in directions.CHECKS.items()}
    disco_first = _rows({"discogan_4pairs": 9.0, "discogan_5pairs": 8.0, "dcgan": 7.0, "magan_mnist": 1.0})
    assert checks["discogan_gains_most_vs_gpu_fpga"](disco_first)[0] is True
    assert checks["magan_gains_least_vs_gpu_fpga"](disco_first)[0] is True
    dcgan_first = _rows({"discogan_4pairs": 9.0, "discogan_5pairs": 6.0, "dcgan": 7.0, "magan_mnist": 0.5})
    holds, detail = checks["discogan_gains_most_vs_gpu_fpga"](dcgan_first)
    assert holds is False and "dcgan 7×" in detail and "lergan-high gpu" in detail
    split = _rows({"dcgan": 1.0, "magan_mnist": 1.0, "discogan_4pairs": 1.0},
                  {"dcgan": 1.5, "magan_mnist": 0.9, "discogan_4pairs": 1.2})
    holds, detail = checks["energy_vs_fpga_split"](split)
    assert holds is False and detail.startswith("wrong side: discogan_4pairs;")
    assert checks["energy_vs_fpga_split"]([])[0] is None


def test_bench_writes_baseline_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end with the real analysis (the simulation stubbed): gpu and fpga-gan rows, fields, figures."""
    from lergan_cc.bench import runner
    from lergan_cc.cli import lergan_bench
    from tests.test_bench import _fake_simulate

    model = tmp_path / "tiny.lergan"
    model.write_text(TINY_GAN, encoding="utf-8")
    monkeypatch.setattr(runner, "_simulate", _fake_simulate)
    out = tmp_path / "out"
    argv = ["--models", str(model), "--configs", "lergan-low", "--out", str(out), "--jobs", "1", "--batch", "4",
            "--cache-dir", str(tmp_path / "c")]
    assert lergan_bench.main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    rows = {r["config"]: r for r in data["results"]}
    assert set(rows) == {"prime", "lergan-low", "gpu", "fpga-gan"}
    assert rows["gpu"]["baseline"] and 0 <= rows["gpu"]["compute_bound_share"] <= 1  # batch 4: memory bound
    assert rows["lergan-low"]["speedup_vs_gpu"] == pytest.approx(rows["gpu"]["time_ns"] / rows["lergan-low"]["time_ns"])
    assert set(data["meta"]["baselines"]) == {"gpu", "fpga-gan"}
    assert "## Speedup over gpu" in (out / "tables.md").read_text()
    assert {"fig21_vs_gpu.png", "fig21_vs_fpga.png", "fig22_energy_vs_gpu_fpga.png"} <= {p.name for p in out.iterdir()}


def test_runs_are_what_the_program_executes(tmp_path: Path) -> None:
    """The iteration of the work table is the FSM program's: under normal reshaping with no replicas
    every matrix op takes the same rounds per sample each time, so the simulator's total rounds of a
    (layer, phase) over its rounds per sample and the batch count the times the program ran it."""
    model = tmp_path / "tiny.lergan"
    model.write_text(TINY_GAN, encoding="utf-8")
    flags = ["--zero-free", "none", "--replica", "none", "--batch", "4"]
    assert run_cli("lerganc", model, *flags, "-o", tmp_path / "t.fsm").returncode == 0
    proc = run_cli("lergan-sim", tmp_path / "t.fsm", "--timing-only", "--report", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    g = lower(str(model), Options(batch=4, zero_free="none", replica="none"), "analysis")
    runs = {(w["layer"], w["phase"]): w["runs"] for w in workload.table(g) if w["macs"]}
    executed = {(r["layer"], r["phase"]): r["mmv_rounds_total"] / (4 * r["mmv_rounds"])
                for r in report["layers"] if r["mmv_rounds"]}
    assert executed == runs
    assert set(runs.values()) == {1, 2, 3}


def test_baselines_override_scales_the_roofline(graph: Graph, tmp_path: Path) -> None:
    slower = tmp_path / "half.toml"
    d = baselines.devices()["gpu"]
    slower.write_text(f"[gpu]\nmacs_per_s = {d.macs_per_s / 2}\nbytes_per_s = {d.bytes_per_s / 2}\n"
                      'label = "half a Titan X"\n', encoding="utf-8")
    work_rows = workload.table(graph)
    default = {r["config"]: r for r in baselines.rows("tiny", work_rows, 4)}
    halved = {r["config"]: r for r in baselines.rows("tiny", work_rows, 4, str(slower))}
    assert halved["gpu"]["time_ns"] == pytest.approx(2 * default["gpu"]["time_ns"])
    assert halved["fpga-gan"]["time_ns"] == default["fpga-gan"]["time_ns"]
    assert baselines.devices(str(slower))["gpu"].label == "half a Titan X"


@pytest.mark.parametrize(("text", "needle"), [
    ("[tpu]\npower_w = 1\n", "unknown baseline [tpu]"),
    ("[gpu]\nflops = 1\n", "[gpu] has no key 'flops'"),
    ("[gpu]\npower_w = -5\n", "[gpu] power_w must be a positive number"),
    ("[fpga-gan]\nvalue_bytes = 1.5\n", "value_bytes must be a positive integer"),
    ("[gpu]\nlabel = 3\n", "label must be a string"),
    ("[gpu\n", "line 1"),
])
def test_bad_baselines_file_one_line_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    proc = run_cli("lergan-bench", "--baselines", bad, "--models", "dcgan", "--out", tmp_path / "out",
                   "--cache-dir", tmp_path / "c")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists()


def test_missing_baselines_file(tmp_path: Path) -> None:
    proc = run_cli("lergan-bench", "--baselines", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert_one_line_error(proc, "nope.toml")

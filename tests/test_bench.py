"""lergan-bench: the design-point table, name checks, the result cache, and the output files on a tiny GAN.

The simulations here are a tiny GAN; the full benchmark is never run by the test suite.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lergan_cc.bench import cache, configs, directions, executors, results, runner, task
from lergan_cc.bench.tables import markdown as tables_markdown
from lergan_cc.cli import lergan_bench
from lergan_cc.errors import LerganError
from tests.conftest import BENCHMARKS, assert_one_line_error, run_cli

TINY_GAN = """gan {
  generator     "10f-(16t-8t)(4k2s)-t1"
  discriminator "(1c-8c-16c)(4k2s)-f1"
  item 8x8
}
"""

EXPECTED = {  # design point -> (zero-free, target, replica) as lerganc parses its flags
    "prime": ("none", "htree-2d", "none"), "2d-zfdr": ("zfdr", "htree-2d", "none"),
    "3d-nr": ("none", "lergan-3d", "none"), "3d-zfdr": ("zfdr", "lergan-3d", "none"),
    "lergan-low": ("zfdr", "lergan-3d", "low"), "lergan-middle": ("zfdr", "lergan-3d", "middle"),
    "lergan-high": ("zfdr", "lergan-3d", "high"), "zara-low": ("deform", "lergan-3d", "low"),
    "zara-middle": ("deform", "lergan-3d", "middle"), "zara-high": ("deform", "lergan-3d", "high"),
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.lergan"
    path.write_text(TINY_GAN, encoding="utf-8")
    return path


def _job(model: Path, config: str = "prime") -> runner.Job:
    return runner.Job(configs.Model(model.stem, model, model.stem), config, configs.CONFIGS[config].flags, batch=4)


WHOLE_MACHINE = ("prime", "2d-zfdr", "2d-zfdr-low", "3d-zfdr", "lergan-low", "lergan-middle", "lergan-high")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_flags_parse_as_lerganc_options(name: str, tiny: Path) -> None:
    opts = runner.options_of(_job(tiny, name))
    assert (opts.zero_free, opts.target, opts.replica) == EXPECTED[name]
    assert opts.batch == 4 and opts.data_parallel == 1 and opts.overlap == "none"


@pytest.mark.parametrize("name", WHOLE_MACHINE)
def test_whole_machine_points_are_their_serial_point_with_copies_and_overlaps(name: str, tiny: Path) -> None:
    serial, whole = runner.options_of(_job(tiny, name)), runner.options_of(_job(tiny, f"{name}-dp"))
    assert whole.data_parallel == "auto" and whole.overlap == "paper"
    assert (whole.zero_free, whole.target, whole.replica) == (serial.zero_free, serial.target, serial.replica)
    assert configs.serial_of(f"{name}-dp") == name and configs.baseline_of(f"{name}-dp") == "prime-dp"


def test_numeric_data_parallel_flags_are_integers(tiny: Path) -> None:
    job = runner.Job(configs.Model("t", tiny, "t"), "x", ("--data-parallel", "3", "--grad-reduce", "home"), batch=4)
    assert runner.options_of(job).data_parallel == 3 and runner.options_of(job).grad_reduce == "home"


def test_table_is_exactly_the_expected_design_points() -> None:
    assert set(configs.CONFIGS) == {*EXPECTED, "2d-zfdr-low", *(f"{n}-dp" for n in WHOLE_MACHINE)}
    assert runner.options_of(_job(Path("x.lergan"), "2d-zfdr-low")).target == "htree-2d"


def test_select_names() -> None:
    assert configs.select_configs(None) == list(configs.CONFIGS)
    assert configs.select_configs(["lergan-high", "3d-nr"]) == ["prime", "3d-nr", "lergan-high"]
    assert configs.select_configs(["gpu", "lergan-low"]) == ["prime", "lergan-low"]  # rooflines: always computed
    assert configs.select_configs(["lergan-low-dp"]) == ["prime", "prime-dp", "lergan-low-dp"]
    assert [m.name for m in configs.select_models(None)] == list(BENCHMARKS)
    assert configs.split_names("a, b,") == ["a", "b"] and configs.split_names("all") is None
    with pytest.raises(LerganError, match="unknown design point 'lergan-huge'"):
        configs.select_configs(["lergan-huge"])
    with pytest.raises(LerganError, match="unknown benchmark 'biggan'"):
        configs.select_models(["biggan"])


@pytest.mark.parametrize(("flag", "value", "needle"), [("--models", "dcgan,biggan", "unknown benchmark 'biggan'"),
                                                        ("--configs", "prime,turbo", "unknown design point 'turbo'"),
                                                        ("--jobs", "0", "positive integer")])
def test_bad_names_one_line_exit_2(tmp_path: Path, flag: str, value: str, needle: str) -> None:
    proc = run_cli("lergan-bench", flag, value, "--out", tmp_path / "out", "--cache-dir", tmp_path / "c")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists()


def _fake_simulate(job: runner.Job) -> dict[str, Any]:
    """A report in the DESIGN §8 shape whose numbers depend on the design point (fast)."""
    speed = {"prime": 1.0, "3d-zfdr": 4.0, "lergan-low": 8.0}.get(job.config, 2.0)
    phases = {p: {"time_ns": 100.0 / speed, "energy_pj": 50.0 / speed} for p in ("G_fwd", "D_fwd")}
    return {"report": {"time_ns": 200.0 / speed, "energy_pj": 100.0 / speed, "phases": phases,
                       "energy_breakdown": {"compute": 70.0, "interconnect": 30.0}, "utilization": {},
                       "traffic": {}, "layers": []}, "crossbars_used": int(10 * speed), "tiles_used": 1,
            "crossbars_by_phase": {"G_fwd": int(5 * speed), "D_fwd": 5}}


class Seen:
    """A progress display that remembers, per finished task, whether it came from the cache."""

    def __init__(self) -> None:
        self.cached_flags: list[bool] = []

    def cached(self, t: task.Task, record: dict[str, Any]) -> None:
        self.cached_flags.append(True)

    def done(self, t: task.Task, record: dict[str, Any]) -> None:
        self.cached_flags.append(False)

    def running(self, count: int) -> None:
        assert 0 <= count <= 1


def _execute(jobs: list[runner.Job], store: cache.Cache, seen: Seen) -> dict[str, dict[str, Any]]:
    with executors.Local(1) as local:
        return executors.execute([task.from_job(j) for j in jobs], store, local, seen)


def test_cache_hit_miss_and_invalidation(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(runner, "_simulate", lambda job: calls.append(job.config) or _fake_simulate(job))
    store = cache.Cache(tmp_path / "cache")
    jobs = [_job(tiny, "prime"), _job(tiny, "lergan-low")]
    seen = Seen()
    first = _execute(jobs, store, seen)
    assert sorted(calls) == ["lergan-low", "prime"] and seen.cached_flags == [False, False]
    assert set(first) == {j.key() for j in jobs}  # a task is keyed like its job (same file bytes)
    second = _execute(jobs, store, seen)
    assert len(calls) == 2 and seen.cached_flags[2:] == [True, True]
    assert second == first
    tiny.write_text(TINY_GAN.replace("10f", "12f"), encoding="utf-8")  # the model changed: both recomputed
    _execute(jobs, store, seen)
    assert len(calls) == 4
    assert _execute([_job(tiny, "3d-zfdr")], store, seen) and calls[-1] == "3d-zfdr"


def test_cache_key_covers_flags_batch_hw_and_source(tiny: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    base = _job(tiny)
    hw = tmp_path / "hw.toml"
    hw.write_text("# same defaults\n", encoding="utf-8")
    variants = [_job(tiny, "2d-zfdr"), runner.Job(base.model, "prime", base.flags, batch=8),
                runner.Job(base.model, "prime", base.flags, batch=4, functional=True),
                runner.Job(base.model, "prime", base.flags, batch=4, hw=str(hw))]
    assert len({base.key(), *(v.key() for v in variants)}) == 5
    before = base.key()
    assert before == _job(tiny).key()
    monkeypatch.setattr(cache, "source_digest", lambda: "another compiler")
    assert _job(tiny).key() != before


def test_source_digest_ignores_the_bench_itself() -> None:
    bench = Path(cache.__file__).resolve().parent
    assert not cache._is_source(bench / "plots.py", bench)
    assert cache._is_source(bench.parent / "pipeline.py", bench)


def test_outputs_and_schema(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_simulate", _fake_simulate)
    out = tmp_path / "out"
    argv = ["--models", str(tiny), "--configs", "3d-zfdr,lergan-low", "--out", str(out), "--jobs", "1",
            "--batch", "4", "--cache-dir", str(tmp_path / "c")]
    assert lergan_bench.main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    rows = {r["config"]: r for r in data["results"]}
    assert set(rows) == {"prime", "3d-zfdr", "lergan-low", "gpu", "fpga-gan"}  # the rooflines come with every run
    for r in rows.values():
        assert {"model", "config", "time_ns", "energy_pj", "speedup_vs_prime", "energy_saving_vs_prime"} <= set(r)
    assert rows["prime"]["speedup_vs_prime"] == 1.0
    assert rows["lergan-low"]["speedup_vs_prime"] == pytest.approx(8.0)
    assert rows["3d-zfdr"]["energy_saving_vs_prime"] == pytest.approx(4.0)
    assert rows["lergan-low"]["phase_speedup_vs_prime"]["G_fwd"] == pytest.approx(8.0)
    assert rows["lergan-low"]["space_vs_prime"] == pytest.approx(8.0)  # 80 crossbars against 10
    assert rows["3d-zfdr"]["speedup_vs_prime_ns"] == pytest.approx(1.0)  # 4x faster on 4x the crossbars
    assert rows["3d-zfdr"]["phase_space_vs_prime"] == {"G_fwd": 4.0, "D_fwd": 1.0}
    assert data["sarray"][0]["g_fwd"] > 1.0  # from the real lerganc --emit analysis
    assert {d["name"]: d["holds"] for d in data["directions"]}["zfdr_beats_nr_3d"] is None  # 3d-nr not run
    with (out / "results.csv").open() as f:
        assert [r["config"] for r in csv.DictReader(f)] == ["prime", "3d-zfdr", "lergan-low", "gpu", "fpga-gan"]
    md = (out / "tables.md").read_text()
    assert "| **mean** |" not in md and "8.00" in md and "Energy breakdown" in md
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "fig18_reshape.png" in pngs and "sarray.png" in pngs and "fig23_energy_breakdown.png" in pngs
    assert all((out / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    from lergan_cc.bench import plots

    drawn = plots.figures(data["results"], data["sarray"], workers=2)  # forked processes draw them
    assert sorted(drawn) == pngs
    assert drawn == plots.figures(data["results"], data["sarray"])  # the same bytes, drawn here one by one


def test_a_failing_design_point_keeps_earlier_results(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with a failed design point is reported (exit 1) and writes nothing over the results already there;
    the runs that worked are cached for the next try."""
    def fail(job: runner.Job) -> dict[str, Any]:
        if job.config == "prime":
            raise LerganError("bank B1 is full")
        return _fake_simulate(job)

    monkeypatch.setattr(runner, "_simulate", fail)
    out = tmp_path / "o"
    out.mkdir()
    (out / "results.json").write_text("earlier")
    argv = ["--models", str(tiny), "--configs", "prime,3d-zfdr", "--out", str(out), "--jobs", "1",
            "--cache-dir", str(tmp_path / "c"), "--no-plots"]
    assert lergan_bench.main(argv) == 1
    assert "bank B1 is full" in capsys.readouterr().err.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["results.json"] and (out / "results.json").read_text() == "earlier"
    assert len(list((tmp_path / "c").glob("*.json"))) == 3  # 3d-zfdr and the analysis, and the deterministic failure


def test_mean_skips_missing() -> None:
    assert results.mean([1.0, None, 3.0]) == 2.0 and results.mean([None]) is None


def _rows(times: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Rows from {model: {config: time}} with energy = time, compared against prime."""
    rows = [{"model": m, "config": c, "time_ns": t, "energy_pj": t, "phases": {}, "crossbars_used": None}
            for m, ts in times.items() for c, t in ts.items()]
    return results.compare(rows)


def test_whole_machine_rows_compare_against_prime_dp_and_their_serial_point() -> None:
    rows = _rows({"dcgan": {"prime": 100.0, "prime-dp": 10.0, "lergan-low": 20.0, "lergan-low-dp": 2.0}})
    by = {r["config"]: r for r in rows}
    assert by["lergan-low-dp"]["speedup_vs_prime"] == pytest.approx(5.0)  # 10 / 2, not 100 / 2
    assert by["lergan-low-dp"]["speedup_vs_serial"] == pytest.approx(10.0)
    assert by["lergan-low"]["speedup_vs_prime"] == pytest.approx(5.0)
    assert by["lergan-low"]["speedup_vs_serial"] is None
    md = tables_markdown(rows, [])
    assert "## The whole machine" in md and "Speedup over prime-dp" in md
    serial_part = md.split("## The whole machine")[0]
    assert "lergan-low-dp" not in serial_part  # the one-copy tables keep their columns


def test_directions_of_the_whole_machine_read_the_dp_points() -> None:
    base = {"3d-zfdr-dp": 40.0, "lergan-low-dp": 20.0, "lergan-middle-dp": 10.0, "lergan-high-dp": 12.0}
    v = {d["name"]: d for d in directions.evaluate(_rows({"dcgan": base}))}
    assert v["more_replicas_faster_dp"]["holds"] is False and v["more_replicas_faster"]["holds"] is None
    assert "whole machine" in v["more_replicas_faster_dp"]["claim"]


def test_directions_hold_and_fail_with_the_benchmarks_named() -> None:
    base = {"prime": 100.0, "3d-nr": 80.0, "3d-zfdr": 40.0, "lergan-low": 20.0, "lergan-middle": 10.0,
            "lergan-high": 10.0}
    rows = _rows({"dcgan": base, "magan_mnist": {**base, "lergan-low": 90.0, "lergan-middle": 95.0},
                  "gpgan": {**base, "3d-zfdr": 85.0, "lergan-low": 50.0}})
    v = {d["name"]: d for d in directions.evaluate(rows)}
    assert v["zfdr_beats_nr_3d"]["holds"] is False and v["zfdr_beats_nr_3d"]["detail"] == "fails on gpgan"
    assert v["more_replicas_faster"]["holds"] is False and "magan_mnist" in v["more_replicas_faster"]["detail"]
    assert v["magan_gains_least"]["holds"] is True
    assert v["dcgan_discogan_gain_most"]["holds"] is True  # only DCGAN of the three is present
    assert v["3d_beats_htree_zfdr"]["holds"] is None  # no 2d-zfdr rows
    assert "does not hold" in directions.markdown(list(v.values()))


def test_real_simulation_of_a_tiny_gan(tiny: Path, tmp_path: Path) -> None:
    """End to end with the real compiler and timing model: the report's fields reach results.json."""
    out = tmp_path / "out"
    argv = ["--models", str(tiny), "--configs", "3d-nr,3d-zfdr", "--out", str(out), "--jobs", "2", "--batch", "4",
            "--cache-dir", str(tmp_path / "c"), "--no-plots"]
    assert lergan_bench.main(argv) == 0
    rows = {r["config"]: r for r in json.loads((out / "results.json").read_text())["results"] if not r.get("baseline")}
    assert set(rows) == {"prime", "3d-nr", "3d-zfdr"}
    for r in rows.values():
        assert r["time_ns"] > 0 and r["energy_pj"] > 0 and not r.get("error")
        assert set(r["phases"]) >= {"G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad"}
        assert r["energy_breakdown"] and r["traffic"] and r["crossbars_used"] > 0
    assert rows["prime"]["speedup_vs_prime"] == 1.0
    assert rows["3d-zfdr"]["space_vs_prime"] > 1.0  # ZFDR kinds hold more weight copies than one im2col matrix


def test_analysis_key_follows_the_workload_source(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Analysis records carry the work table of the GPU/FPGA rooflines: editing workload.py recomputes
    them (and only them: the bench's other modules stay out of the simulation keys)."""
    analysis = runner.Job(configs.Model("tiny", tiny, "tiny"), runner.ANALYSIS, (), batch=4)
    before, sim_before = analysis.key(), _job(tiny).key()
    real = cache.file_digest
    monkeypatch.setattr(cache, "file_digest", lambda p: "edited" if str(p).endswith("workload.py") else real(p))
    assert analysis.key() != before
    assert _job(tiny).key() == sim_before

"""lergan-bench --sweep: sweep files into grids and seeded samples, one-line errors for bad ones, each
point's hardware overlay keyed like an --hw file, and the output files of a real tiny sweep."""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from pathlib import Path

import pytest

from lergan_cc.bench import configs, runner, task
from lergan_cc.bench.sweep import outputs, pareto, points, spec
from lergan_cc.cli import lergan_bench
from lergan_cc.errors import LerganError
from lergan_cc.targets.hw import load_hw
from tests.conftest import ROOT, assert_one_line_error, run_cli
from tests.test_bench import TINY_GAN

SMALL = """models = ["tiny.lergan"]
configs = ["prime", "lergan-low"]
batch = 4

[params]
isaac.read_ns_per_slice = {log = [50, 200], n = 3}
crossbar.dac_bits = [1, 2]
"""


def write_sweep(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    (tmp_path / "tiny.lergan").write_text(TINY_GAN, encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> spec.Sweep:
    return spec.load(str(write_sweep(tmp_path, text)))


HEAD = 'models = ["dcgan", "magan_mnist"]\nconfigs = ["prime", "lergan-low"]\n'


# ---- parsing into grids and samples ----------------------------------------------------------------

def test_grid_from_lists_and_ranges(tmp_path: Path) -> None:
    s = load(tmp_path, HEAD + """[params]
tile.read_ns = [2.9, 5.8]
isaac.read_ns_per_slice = {log = [25, 1600], n = 7}
isaac.adc_gsps = {lin = [0.64, 2.56], n = 4}
crossbar.rows = {log = [32, 512], n = 5}
""")
    by = {p.name: p for p in s.params}
    assert by["tile.read_ns"].values == (2.9, 5.8) and not by["tile.read_ns"].is_range
    assert by["isaac.read_ns_per_slice"].values == (25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
    assert by["isaac.adc_gsps"].values == (0.64, 1.28, 1.92, 2.56)
    assert by["crossbar.rows"].values == (32, 64, 128, 256, 512)  # an integer field stays integer
    assert all(type(v) is int for v in by["crossbar.rows"].values)
    assert [m.name for m in s.models] == ["dcgan", "magan_mnist"] and s.configs == ("prime", "lergan-low")
    grid = points.grid(s.params)
    assert len(grid) == 2 * 7 * 4 * 5
    assert grid[0] == {"tile.read_ns": 2.9, "isaac.read_ns_per_slice": 25.0, "isaac.adc_gsps": 0.64,
                       "crossbar.rows": 32}
    assert grid[1]["crossbar.rows"] == 64 and grid[-1]["tile.read_ns"] == 5.8  # the first parameter varies slowest
    assert len({tuple(g.values()) for g in grid}) == len(grid)


def test_node_kinds_values_are_lists_of_strings(tmp_path: Path) -> None:
    s = load(tmp_path, HEAD + """[params]
htree.node_kinds = [["merging", "merging", "multiplexing", "multiplexing"],
                    ["merging", "merging", "merging", "merging"]]
""")
    assert s.params[0].values[1] == ("merging",) * 4
    d = points.design(s)
    assert tomllib.loads(d.points[1].hw_text)["htree"]["node_kinds"] == ["merging"] * 4


SAMPLED = HEAD + """sampling = "{how}"
samples = {n}
seed = {seed}

[params]
isaac.read_ns_per_slice = {{log = [25, 1600], n = 5}}
isaac.adc_gsps = {{lin = [0.64, 2.56], n = 3}}
crossbar.dac_bits = [1, 2, 4]
"""


@pytest.mark.parametrize("how", ["random", "lhs"])
def test_samples_are_seeded_and_in_range(tmp_path: Path, how: str) -> None:
    first = points.main_design(load(tmp_path, SAMPLED.format(how=how, n=30, seed=7)))
    again = points.main_design(load(tmp_path, SAMPLED.format(how=how, n=30, seed=7)))
    other = points.main_design(load(tmp_path, SAMPLED.format(how=how, n=30, seed=8)))
    assert first == again and first != other and len(first) == 30
    for v in first:
        assert 25 <= v["isaac.read_ns_per_slice"] <= 1600 and 0.64 <= v["isaac.adc_gsps"] <= 2.56
        assert v["crossbar.dac_bits"] in (1, 2, 4)
    assert len({v["isaac.read_ns_per_slice"] for v in first}) == 30  # a range is drawn from, not its n grid values


def test_latin_hypercube_fills_every_stratum_once(tmp_path: Path) -> None:
    n = 24
    values = points.main_design(load(tmp_path, SAMPLED.format(how="lhs", n=n, seed=3)))

    def strata(xs: list[float], lo: float, hi: float, log: bool) -> list[int]:
        f = (lambda x: math.log(x)) if log else (lambda x: x)
        return sorted(int((f(x) - f(lo)) / (f(hi) - f(lo)) * n) for x in xs)

    assert strata([v["isaac.read_ns_per_slice"] for v in values], 25, 1600, True) == list(range(n))
    assert strata([v["isaac.adc_gsps"] for v in values], 0.64, 2.56, False) == list(range(n))
    dac = [v["crossbar.dac_bits"] for v in values]
    assert (dac.count(1), dac.count(2), dac.count(4)) == (8, 8, 8)  # a list's values equally often


def test_sensitivity_points_vary_one_parameter_from_the_defaults(tmp_path: Path) -> None:
    s = load(tmp_path, SAMPLED.format(how="random", n=5, seed=1))
    d = points.design(s)
    hw = load_hw(None)
    assert d.defaults == {"isaac.read_ns_per_slice": hw.isaac.read_ns_per_slice, "isaac.adc_gsps": hw.isaac.adc_gsps,
                          "crossbar.dac_bits": hw.crossbar.dac_bits}
    assert d.default_point is not None and d.points[d.default_point].values == d.defaults
    for name, indices in d.one_at_a_time.items():
        varied = [d.points[i].values for i in indices]
        assert [v[name] for v in varied] == list(next(p for p in s.params if p.name == name).values)
        assert all({k: x for k, x in v.items() if k != name} == {k: x for k, x in d.defaults.items() if k != name}
                   for v in varied)
    design_points = [p for p in d.points if points.DESIGN in p.roles]
    assert len(design_points) == 5 and len({p.index for p in d.points}) == len(d.points)
    grid_like = load(tmp_path, HEAD + "[params]\ncrossbar.dac_bits = [1, 2]\n")
    g = points.design(grid_like)  # the defaults are grid points: no extra point
    assert len(g.points) == 2 and g.points[0].roles == (points.DESIGN, points.SENSITIVITY)


def test_overlay_is_canonical_and_keyed_like_an_hw_file(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text("[tile]\nwrite_ns = 12.0\n", encoding="utf-8")
    s = load(tmp_path, HEAD + 'hw = "base.toml"\n[params]\ncrossbar.dac_bits = [2]\ntile.read_ns = [3]\n')
    p = points.design(s).points[0]
    assert tomllib.loads(p.hw_text) == {"crossbar": {"dac_bits": 2}, "tile": {"read_ns": 3.0, "write_ns": 12.0}}
    assert p.hw_text == points.overlay_text({"tile": {"write_ns": 12.0}}, {"tile.read_ns": 3.0, "crossbar.dac_bits": 2})
    hw_file = tmp_path / "point.toml"
    hw_file.write_text(p.hw_text, encoding="utf-8")
    model = s.models[0]
    t = task.make(model, "prime", configs.CONFIGS["prime"].flags, 4, False, p.hw_text)
    assert t.key == runner.Job(model, "prime", configs.CONFIGS["prime"].flags, 4, False, str(hw_file)).key()
    assert load_hw(str(hw_file)).tile.write_ns == 12.0  # the base hardware is folded into every point


@pytest.mark.parametrize(("name", "runs"), [("isaac-adc", 336), ("smoke", 28)])
def test_committed_sweep_files_are_valid(name: str, runs: int) -> None:
    s = spec.load(str(ROOT / "benchmarks" / "sweeps" / f"{name}.toml"))
    assert len(points.design(s).points) * len(s.models) * len(s.configs) == runs


# ---- bad sweep files: one line, exit 2, nothing written ------------------------------------------------

BAD = [
    ("[params]\nisac.read_ns_per_slice = [100]\n", "params.isac: unknown hardware section (did you mean 'isaac'?)"),
    ("[params]\nisaac.read_ns_per_slise = [100]\n", "did you mean 'isaac.read_ns_per_slice'?"),
    ("[params]\nread_ns_per_slice = {log = [25, 100], n = 3}\n",
     "params.read_ns_per_slice: expected section.key (did you mean 'isaac.read_ns_per_slice'?)"),
    ("[params]\ncrossbar.rows = [128, 96.5]\n", "crossbar.rows: expected an integer for each value, got float 96.5"),
    ("[params]\ntile.read_ns = [2.9, 2.9]\n", "value 2.9 is listed twice"),
    ("[params]\ntile.read_ns = 2.9\n", "expected a list of values or {log|lin = [low, high], n = N}"),
    ("[params]\ntile.read_ns = {log = [0, 10], n = 3}\n", "log: expected 0 < low < high"),
    ("[params]\ntile.read_ns = {lin = [1, 10]}\n", "n: expected an integer >= 2"),
    ("[params]\ntile.read_ns = {lim = [1, 10], n = 3}\n", "lim: unknown range key (did you mean 'lin'?)"),
    ("[params]\nhtree.node_kinds = {lin = [1, 2], n = 2}\n", "a range needs a numeric parameter"),
    ("[params]\ncrossbar.cell_bits = [4, 3]\n",
     "point 1 (crossbar.cell_bits=3): crossbar.cell_bits: 3-bit cells do not divide 16-bit weights"),
    ("[params]\ntile.read_ns = [0]\n", "point 0 (tile.read_ns=0.0): tile.read_ns: must be positive"),
    ("sample = 3\n", "sample: unknown key (did you mean 'samples'?)"),
    ("samples = 3\n", "samples: only with sampling = \"random\" or \"lhs\""),
    ('sampling = "lhs"\n', "samples: missing"),
    ('sampling = "latin"\n', "sampling: expected one of grid, random, lhs"),
    ('sampling = "lhs"\nsamples = 0\n', "samples: expected an integer >= 1"),
    ("batch = 3\nbatch = 4\n", "TOML syntax error"),
]


@pytest.mark.parametrize(("body", "needle"), BAD)
def test_bad_sweep_file_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                                        needle: str) -> None:
    path = write_sweep(tmp_path, HEAD + body)
    out = tmp_path / "out"
    assert lergan_bench.main(["--sweep", str(path), "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lergan-bench: error: {path}"), err
    assert needle in err[0]
    assert not out.exists() and not (tmp_path / "c").exists()


@pytest.mark.parametrize(("head", "needle"), [
    ('models = ["dcgna"]\nconfigs = ["prime"]\n', "unknown benchmark 'dcgna' (did you mean 'dcgan'?)"),
    ('models = ["dcgan"]\nconfigs = ["lergan-lo"]\n', "unknown design point 'lergan-lo' (did you mean 'lergan-low'?)"),
    ('models = ["dcgan"]\n', "configs: missing"),
    ('models = ["dcgan", "dcgan"]\nconfigs = ["prime"]\n', "'dcgan' is named twice"),
    ('models = ["dcgan"]\nconfigs = ["prime"]\nhw = "nope.toml"\n', "nope.toml: no such file"),
])
def test_bad_names_in_a_sweep_file(tmp_path: Path, head: str, needle: str) -> None:
    with pytest.raises(LerganError, match=re.escape(needle)):
        load(tmp_path, head)


def test_bad_sweep_file_from_the_shell(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, HEAD + "[params]\ntile.read_nss = [1]\n")
    proc = run_cli("lergan-bench", "--sweep", path, "--out", tmp_path / "out")
    assert_one_line_error(proc, "tile.read_nss: unknown hardware parameter (did you mean 'tile.read_ns'?)")


@pytest.mark.parametrize(("extra", "needle"), [
    (["--models", "dcgan"], "--models does not apply to --sweep"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--jobs", "2"], "with --scheduler the cluster's"),
])
def test_conflicting_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                             needle: str) -> None:
    path = write_sweep(tmp_path, SMALL)
    assert lergan_bench.main(["--sweep", str(path), "--out", str(tmp_path / "o"), *extra]) == 2
    assert needle in capsys.readouterr().err


def test_dask_missing_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if the [dask] extra were not installed
    path = write_sweep(tmp_path, SMALL)
    argv = ["--sweep", str(path), "--out", str(tmp_path / "o"), "--executor", "dask", "--no-cache"]
    assert lergan_bench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lergan-bench: error: --executor dask needs dask.distributed: pip install -e \".[dask]\""]
    assert not (tmp_path / "o").exists()


# ---- a real tiny sweep -------------------------------------------------------------------------------

def test_tiny_sweep_outputs(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SMALL)
    out = tmp_path / "out"
    argv = ["--sweep", str(path), "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--jobs", "2"]
    assert lergan_bench.main(argv) == 0
    with (out / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 * 2  # 3 read times x 2 DAC widths, x 2 design points (the defaults are grid points)
    assert list(rows[0])[:6] == ["point", "role", "model", "config", "isaac.read_ns_per_slice", "crossbar.dac_bits"]
    assert all(r["error"] == "" and float(r["time_ns"]) > 0 for r in rows)
    by = {(r["point"], r["config"]): r for r in rows}
    slow, fast = by[("0", "prime")], by[("1", "prime")]  # 1-bit vs 2-bit DACs at 50 ns: half the input slices
    assert float(fast["time_ns"]) < float(slow["time_ns"]) and float(fast["energy_pj"]) > float(slow["energy_pj"])
    data = json.loads((out / "sweep.json").read_text())
    assert data["meta"]["runs"] == {"distinct": 12, "cached": 0, "computed": 12, "failed": 0}
    fronts = outputs.fronts(data["results"])
    assert data["pareto"]["tiny"] == [[r["point"], r["config"]] for r in fronts["tiny"]]
    hw_files = sorted(p.stem for p in (out / "hw").glob("*.toml"))
    assert hw_files == sorted({r["hw"] for r in rows})
    md = (out / "sweep.md").read_text()
    assert "## Pareto front of tiny" in md and "## Sensitivity" in md and "`crossbar.dac_bits` (1)" in md
    assert {p.name for p in out.glob("*.png")} == {"pareto-tiny.png", "sensitivity-tiny.png"}
    # the front holds no dominated row, and every row off it is dominated by one on it
    vec = {(r["point"], r["config"]): [r[k] for k in outputs.OBJECTIVES] for r in data["results"]}
    on = {tuple(x) for x in data["pareto"]["tiny"]}
    for k, v in vec.items():
        assert (k in on) == (not any(pareto.dominates(w, v) for w in vec.values()))


def test_progress_lines_count_done_running_failed_and_eta() -> None:
    import io

    from lergan_cc.bench import progress

    stream = io.StringIO()
    t = task.Task("m", "m.lergan", b"", "prime", (), 4, False, None, "digest", "k", "m prime point 0")
    with progress.create(4, stream) as shown:
        shown.cached(t, {"ok": True})
        shown.running(2)
        shown.done(t, {"ok": True, "seconds": 1.5})
        shown.done(t, {"ok": False, "error": "bank B1 is full", "seconds": 0.5})
    lines = stream.getvalue().splitlines()
    assert lines[0] == "1 of 4 from the cache"
    assert lines[1].startswith("[2/4] m prime point 0: ok (1.5 s) · running 2 · failed 0 · 1 cached · ETA ")
    assert "error: bank B1 is full (0.5 s) · running 2 · failed 1" in lines[2]
    assert shown.counts.eta() is not None and shown.counts.eta() >= 0  # 1 left at the rate of 2 computed

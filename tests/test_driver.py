"""The lerganc / lergan-opt drivers: instruments, pass selection, emissions, errors (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lergan_cc.ir.parser import parse_ir, parse_ir_file
from lergan_cc.ir.printer import print_graph
from tests.conftest import BENCHMARKS, EXAMPLES, assert_one_line_error, run_cli

DCGAN = EXAMPLES / "dcgan.lergan"


def test_stop_after_import_ir_json_shows_g2() -> None:
    proc = run_cli("lerganc", DCGAN, "--stop-after", "import", "--emit", "ir-json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    g2 = next(n for n in doc["nodes"] if n["layer"] == "G2" and n["op"] == "tconv")
    assert g2["input_shapes"] == [[1024, 4, 4]] and g2["output_shapes"] == [[512, 8, 8]]
    attrs = g2["attrs"]
    assert (attrs["kernel"], attrs["stride"], attrs["pads"], attrs["output_padding"]) == (
        [5, 5], [2, 2], [2, 2, 2, 2], [1, 1])
    assert {n["phase"] for n in doc["nodes"]} == {"G_fwd", "D_fwd"}


def test_print_ir_after_all_prints_a_banner_per_pass() -> None:
    proc = run_cli("lerganc", DCGAN, "--stop-after", "expand-training", "--emit", "ir", "--print-ir-after", "all")
    assert proc.returncode == 0, proc.stderr
    banners = [line for line in proc.stderr.splitlines() if line.startswith("// -----// IR Dump After")]
    assert banners == ["// -----// IR Dump After import //----- //",
                       "// -----// IR Dump After expand-training //----- //"]


def test_print_ir_after_one_pass() -> None:
    proc = run_cli("lerganc", DCGAN, "--stop-after", "expand-training", "--emit", "ir",
                   "--print-ir-after", "import")
    assert proc.stderr.count("IR Dump After") == 1 and "IR Dump After import" in proc.stderr


def test_dump_ir_writes_one_parseable_file_per_pass(tmp_path: Path) -> None:
    proc = run_cli("lerganc", DCGAN, "--stop-after", "expand-training", "--emit", "ir", "--dump-ir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["000_import.lir", "001_expand-training.lir"]
    last = (tmp_path / files[-1]).read_text()
    assert last == proc.stdout
    assert print_graph(parse_ir_file(str(tmp_path / files[0]))) == (tmp_path / files[0]).read_text()


def test_time_passes_reports_every_pass() -> None:
    proc = run_cli("lerganc", DCGAN, "--stop-after", "expand-training", "--emit", "ir", "--time-passes")
    assert "Pass execution timing report" in proc.stderr
    assert "  import" in proc.stderr and "  expand-training" in proc.stderr and "  total" in proc.stderr


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_stage_round_trips(name: str) -> None:
    for stage in ("import", "expand-training"):
        proc = run_cli("lerganc", EXAMPLES / f"{name}.lergan", "--stop-after", stage, "--emit", "ir")
        assert proc.returncode == 0, proc.stderr
        assert print_graph(parse_ir(proc.stdout)) == proc.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--stop-after", "no-such-pass"], "--stop-after no-such-pass: not a pass"),
    (["--print-ir-after", "bogus", "--stop-after", "import"], "--print-ir-after bogus"),
    (["--batch", "0"], "--batch: expected a positive integer"),
    (["--emit", "pdf"], "argument --emit: invalid choice"),
    (["--hw", "/nonexistent/hw.toml"], "/nonexistent/hw.toml: no such file"),
    (["--mode", "infer", "--discriminator", str(DCGAN)], "already a GAN"),
])
def test_bad_flags_give_one_line(args: list[str], needle: str) -> None:
    assert_one_line_error(run_cli("lerganc", DCGAN, *args), needle)


def test_missing_model_and_unknown_format(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("lerganc", tmp_path / "nope.lergan"), "nope.lergan: no such file")
    odd = tmp_path / "model.txt"
    odd.write_text("hello")
    assert_one_line_error(run_cli("lerganc", odd), "unknown model format '.txt'")


def test_failed_compile_leaves_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out.lir"
    out.write_text("precious")
    proc = run_cli("lerganc", DCGAN, "--stop-after", "no-such-pass", "--emit", "ir", "-o", out)
    assert proc.returncode == 2
    assert out.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.lir"]


def test_output_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "dcgan.lir"
    proc = run_cli("lerganc", DCGAN, "--stop-after", "import", "--emit", "ir", "-o", out)
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text().startswith("lir 2\n")


def test_infer_mode_on_a_gan_keeps_the_generator() -> None:
    proc = run_cli("lerganc", DCGAN, "--mode", "infer", "--stop-after", "import", "--emit", "ir-json")
    doc = json.loads(proc.stdout)
    assert {n["phase"] for n in doc["nodes"]} == {"fwd"}
    assert all(n["layer"].startswith(("G", "noise")) for n in doc["nodes"])


def test_lergan_opt_runs_passes_and_rejects_unknown_ones(tmp_path: Path) -> None:
    src = tmp_path / "dcgan.lir"
    src.write_text(run_cli("lerganc", DCGAN, "--stop-after", "import", "--emit", "ir").stdout)
    direct = run_cli("lerganc", DCGAN, "--stop-after", "expand-training", "--emit", "ir").stdout
    assert run_cli("lergan-opt", src, "-p", "expand-training").stdout == direct
    assert_one_line_error(run_cli("lergan-opt", src, "-p", "frobnicate"), "unknown pass 'frobnicate'")
    assert_one_line_error(run_cli("lergan-opt", src, "-p", "import"), "use lerganc")

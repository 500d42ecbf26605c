"""What the command lines owe a person (issue 16): ``--version``, every flag's default in ``--help``,
``--plot-placement`` with any ``--emit``, ``--emit analysis`` as a table on a terminal (JSON elsewhere),
a progress bar on a terminal for a run past 2 s (nothing on a pipe), a README that stands on its own."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from lergan_cc.cli import lergan_bench, lergan_opt, lergan_sim, lerganc
from lergan_cc.cli.common import version
from lergan_cc.cli.progress import Progress
from tests.conftest import ROOT, assert_one_line_error, run_cli

PARSERS = {"lerganc": lerganc.build_parser, "lergan-opt": lergan_opt.build_parser,
           "lergan-sim": lergan_sim.build_parser, "lergan-bench": lergan_bench.build_parser}


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_version(tool: str) -> None:
    proc = run_cli(tool, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"{tool} {version()}" and re.match(r"\d+\.\d+", version())


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_flag_says_its_default(tool: str) -> None:
    parser = PARSERS[tool]()
    for action in parser._actions:  # argparse has no public list of its arguments
        if action.option_strings and action.dest not in ("help", "version"):
            assert action.help and "default" in action.help, f"{tool} {action.option_strings[0]}: {action.help!r}"
    assert "(default: 0.0002)" in " ".join(PARSERS["lergan-sim"]().format_help().split())


def on_a_terminal(*cmd: str | Path, cwd: Path) -> tuple[int, str]:
    """Run ``cmd`` with its stdin, stdout and stderr on a pseudo-terminal; its exit status and what it wrote."""
    main, other = pty.openpty()
    proc = subprocess.Popen([str(c) for c in cmd], stdin=other, stdout=other, stderr=other, cwd=cwd,
                            env={**os.environ, "COLUMNS": "200"})
    os.close(other)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    return proc.wait(), out.decode("utf-8", "replace")


def test_analysis_is_a_table_on_a_terminal_and_json_elsewhere(tmp_path: Path) -> None:
    code, shown = on_a_terminal("lerganc", ROOT / "examples" / "dcgan.lergan", "--emit", "analysis", cwd=tmp_path)
    assert code == 0
    g2 = r"G2 +G_fwd +tconv +1024x4x4 -> 512x8x8 +151,519,232 +838,860,800 +18\.06% +25 \(9\+12\+4\) +9 +64"
    assert re.search(g2, shown), shown[:2000]
    assert run_cli("lerganc", ROOT / "examples" / "dcgan.lergan", "--emit", "analysis", "-o",
                   tmp_path / "a.json").returncode == 0
    rows = json.loads((tmp_path / "a.json").read_text())["layers"]
    assert rows[0]["layer"] == "G2" and rows[0]["zfdr"]["rounds"] == 9
    piped = run_cli("lerganc", ROOT / "examples" / "dcgan.lergan", "--emit", "analysis")
    assert json.loads(piped.stdout)["layers"] == rows


@pytest.mark.parametrize("emit", ["fsm", "ir", "ir-json", "analysis", "placement"])
def test_plot_placement_with_any_emit(tmp_path: Path, emit: str) -> None:
    out = tmp_path / ("p.fsm" if emit == "fsm" else "p.txt")
    proc = run_cli("lerganc", ROOT / "examples" / "tiny_asym.lergan", "--batch", "2", "--emit", emit, "-o", out,
                   "--plot-placement", tmp_path / "p.png")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 0


def test_plot_placement_before_placement_is_refused(tmp_path: Path) -> None:
    proc = run_cli("lerganc", ROOT / "examples" / "tiny_asym.lergan", "--emit", "ir", "--stop-after", "zfdr",
                   "--plot-placement", tmp_path / "p.png")
    assert_one_line_error(proc, "--plot-placement: the placement passes did not run")
    assert not (tmp_path / "p.png").exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_waits_then_shows_and_goes_away() -> None:
    quick = Terminal()
    with Progress("quick", 2, stream=quick) as shown:
        shown.update("step", 1, 2)
    assert quick.getvalue() == ""  # over before the delay: nothing shown
    slow = Terminal()
    with Progress("slow", 2, stream=slow, delay=0.0) as shown:
        deadline = time.monotonic() + 5
        while not shown.shown and time.monotonic() < deadline:
            time.sleep(0.01)
        shown.update("iteration 1/2: d.g_fwd", 1, 2)
        shown.line("iteration 1/2: loss_d=1.0 (2.1 s)")
    assert shown.shown and "iteration 1/2: loss_d=1.0 (2.1 s)" in slow.getvalue()
    piped = io.StringIO()
    with Progress("piped", 2, stream=piped, delay=0.0) as shown:
        shown.line("not shown")
    assert piped.getvalue() == "" and not shown.shown


def test_the_simulator_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    prog = tmp_path / "d.fsm"
    assert run_cli("lerganc", ROOT / "examples" / "dcgan.lergan", "--batch", "4", "-o", prog).returncode == 0
    code, shown = on_a_terminal("lergan-sim", prog, "--iterations", "2", cwd=tmp_path)
    assert code == 0 and "iteration 2: loss_d=" in shown
    if "simulated in" in shown and float(re.search(r"simulated in ([\d.]+) s", shown)[1]) > 2.5:  # type: ignore[index]
        assert "lergan-sim: iteration 2/2: loss_d=" in shown and "━" in shown  # the bar, and the losses above it
    piped = run_cli("lergan-sim", prog, "--iterations", "2")
    assert "━" not in piped.stderr and "lergan-sim: iteration" not in piped.stderr


def test_readme_stays_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../" not in text and not re.search(r"\]\((https?:|/)", text)
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        assert (ROOT / target).exists(), target
    for path in re.findall(r"`((?:docs|examples|tests|benchmarks|targets|lergan_cc)/[^`\s]*)`", text):
        assert (ROOT / path.rstrip("/")).exists(), path

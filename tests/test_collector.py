"""The cyclic garbage collector paused for compiles and timing-only runs (lergan_cc/cli/collector.py): back in
its previous state for a caller in the same process, left off in a command's own process (which ends
right after), never paused for the functional simulation; and the property that makes the pause safe —
the timing model makes no cyclic garbage while it runs, however many iterations."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from lergan_cc import api
from lergan_cc.cli import collector
from lergan_cc.cli.collector import without_gc
from lergan_cc.sim import driver

TINY = 'gan {\n  generator "10f-(16t-8t)(4k2s)-t1"\n  discriminator "(1c-8c-16c)(4k2s)-f1"\n  item 8x8\n}\n'

# a command run as its own process, counting the collector's passes that start once it reads its input
# (lerganc: from its start; lergan-sim: from reading the program, its flags parsed)
COUNTING = """
import atexit, gc, sys
from lergan_cc import api
from lergan_cc.cli import {module} as cli
passes = []
count = lambda phase, info: phase == "start" and passes.append(info["generation"])
def load_program(*args, **kwargs):
    gc.callbacks.append(count)
    return read(*args, **kwargs)
read, api.load_program = api.load_program, load_program
if "{module}" != "lergan_sim":
    gc.callbacks.append(count)
atexit.register(lambda: print("passes", len(passes), file=sys.stderr))
sys.argv = ["{prog}", *sys.argv[1:]]
cli.console()
"""


def test_the_collector_comes_back_as_it_was() -> None:
    assert gc.isenabled()
    with without_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), without_gc():
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    assert _off_after_a_paused_block()


def test_in_a_process_that_ends_after_the_run_the_collector_stays_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "_process_ends_after", False)
    collector.process_ends_after_run()
    assert _off_after_a_paused_block()


def _off_after_a_paused_block() -> bool:
    """Whether the collector is off after an empty ``without_gc`` block (it is turned back on after)."""
    try:
        with without_gc():
            pass
        return not gc.isenabled()
    finally:
        gc.enable()


def _passes(tmp_path: Path, module: str, prog: str, *args: str) -> int:
    proc = subprocess.run([sys.executable, "-c", COUNTING.format(module=module, prog=prog), *args], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.split("passes ")[-1])


def test_a_compile_and_a_timing_only_run_make_no_pass_but_a_functional_run_does(tmp_path: Path) -> None:
    (tmp_path / "tiny.lergan").write_text(TINY)
    assert _passes(tmp_path, "lerganc", "lerganc", "tiny.lergan", "--batch", "2", "-o", "p.fsm") == 0
    assert _passes(tmp_path, "lergan_sim", "lergan-sim", "p.fsm", "--timing-only") == 0
    assert _passes(tmp_path, "lergan_opt", "lergan-opt", "-", "--help") == 0
    assert _passes(tmp_path, "lergan_sim", "lergan-sim", "p.fsm") > 0


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_the_timing_model_makes_no_cyclic_garbage(engine: str) -> None:
    """With the collector off, everything the model made while it ran is still reachable from its result
    (a reference cycle dropped per state or per iteration would show here, growing with the iterations)."""
    program = api.compile("examples/magan_mnist.lergan", batch=16, data_parallel="auto", warn=lambda _: None)
    garbage: list[int] = []
    for iterations in (1, 1, 3):
        gc.collect()
        with without_gc():
            result = driver.time_only(program.fsm, "magan", driver.SimOptions(iterations, timing_only=True,
                                                                               timing_engine=engine))
            garbage.append(gc.collect())
        assert result.timing is not None
    # the first run builds the reduction trees (networkx's Steiner tree leaves a few hundred objects in cycles
    # once per tree; the trees are cached with the topology), the others make none
    assert garbage[0] < 1000 and garbage[1:] == [0, 0]

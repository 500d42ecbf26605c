"""The output discipline of lergan_cc/outputs.py: declared up front, staged, renamed together, per the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lergan_cc import outputs
from lergan_cc.errors import LerganError, warn
from lergan_cc.outputs import TMP_MARK, Outputs, guard
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli

TINY = 'gan {\n  generator "10f-(16t-8t)(4k2s)-t1"\n  discriminator "(1c-8c-16c)(4k2s)-f1"\n  item 8x8\n}\n'


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.lergan"
    path.write_text(TINY)
    return path


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_are_created_per_the_umask(tiny: Path, umask: int) -> None:
    proc = subprocess.run(["lerganc", str(tiny), "--batch", "2", "-o", "p.fsm"], cwd=tiny.parent,
                          preexec_fn=lambda: os.umask(umask), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("p.fsm", "p.fsm.npz"):
        assert stat.S_IMODE((tiny.parent / name).stat().st_mode) == 0o666 & ~umask


def test_a_hard_link_or_symlink_to_an_input_is_the_input(tiny: Path) -> None:
    os.link(tiny, tiny.parent / "hard.lir")
    (tiny.parent / "soft.lir").symlink_to(tiny)
    for name in ("hard.lir", "soft.lir"):
        assert_one_line_error(run_cli("lerganc", tiny, "--emit", "ir", "-o", tiny.parent / name), "is also an input")
    assert tiny.read_text() == TINY


def test_a_symlinked_output_is_written_through_and_stays_a_link(tiny: Path) -> None:
    target = tiny.parent / "real.lir"
    target.write_text("old\n")
    (tiny.parent / "link.lir").symlink_to(target)
    assert run_cli("lerganc", tiny, "--emit", "ir", "-o", tiny.parent / "link.lir").returncode == 0
    assert (tiny.parent / "link.lir").is_symlink() and target.read_text().startswith("lir ")


def test_a_special_file_is_written_in_place() -> None:
    proc = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--emit", "analysis", "-o", "/dev/null")
    assert proc.returncode == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_closed_stdout_ends_quietly(tiny: Path) -> None:
    """``lerganc ... --emit ir | head -1``: the reader leaves; no BrokenPipeError, status 141 as for C tools."""
    proc = subprocess.Popen(["lerganc", str(tiny), "--emit", "ir"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"lir ")
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 141) and err == b"", err


def test_warnings_are_held_until_the_run_succeeds(tmp_path: Path) -> None:
    """A warning then an error would be two lines for one failure: a failed run prints only its error."""
    hw = tmp_path / "hw.toml"
    hw.write_text("[memory]\ncarray_mib = 10\nbarray_mib = 2\nsarray_mib = 116\n")
    args = [EXAMPLES / "dcgan.lergan", "--hw", hw, "--replica", "high", "--stop-after", "replicate"]
    ok = run_cli("lerganc", *args, "--emit", "ir", "-o", tmp_path / "x.lir")
    assert ok.returncode == 0 and "warning: replicate" in ok.stderr
    assert_one_line_error(run_cli("lerganc", *args, "--emit", "fsm", "-o", tmp_path / "x.fsm"), "stops before emit-fsm")


def test_guard_drops_held_warnings_on_error(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        warn("lergan_cc: warning: something")
        raise LerganError("the one line")

    assert guard("tool", body) == 2
    assert capsys.readouterr().err == "tool: error: the one line\n"
    assert guard("tool", lambda: warn("lergan_cc: warning: kept") or 0) == 0
    assert capsys.readouterr().err == "lergan_cc: warning: kept\n"


def test_staged_files_land_together_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("old a")
    with pytest.raises(LerganError), Outputs() as out:
        out.file("-o", str(tmp_path / "a"))
        out.directory("--dump-ir", str(tmp_path / "d"))
        out.write(str(tmp_path / "a"), "new a")
        write = out.writer(str(tmp_path / "d"))
        assert write is not None
        write("000_import.lir", "x")
        assert sorted(p.name for p in tmp_path.iterdir() if TMP_MARK in p.name)  # staged beside the target
        raise LerganError("a later failure")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and (tmp_path / "a").read_text() == "old a"
    with Outputs() as out:
        out.file("-o", str(tmp_path / "a"))
        out.write(str(tmp_path / "a"), "new a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and (tmp_path / "a").read_text() == "new a"


def _replace_twice(tmp_path: Path) -> tuple[int, int]:
    """Commit ``a`` over an existing ``a``; (the old file's inode, the staged temporary's inode)."""
    (tmp_path / "a").write_text("old a")
    old = (tmp_path / "a").stat().st_ino
    with Outputs() as out:
        out.file("-o", str(tmp_path / "a"))
        out.write(str(tmp_path / "a"), "new a")
        temp = next(p for p in tmp_path.iterdir() if TMP_MARK in p.name)
        staged = temp.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and (tmp_path / "a").read_text() == "new a"
    assert (tmp_path / "a").stat().st_ino == staged != old
    return old, staged


def test_an_output_over_an_existing_file_is_exchanged_not_renamed_over(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 writes out a file renamed over another inside the rename (auto_da_alloc): an exchange does not."""
    if outputs._renameat2() is None:
        pytest.skip("no renameat2 here")
    (tmp_path / "x").write_text("x")
    (tmp_path / "y").write_text("y")
    if not outputs._exchanged(str(tmp_path / "x"), str(tmp_path / "y")):
        pytest.skip("this file system has no RENAME_EXCHANGE")
    assert (tmp_path / "x").read_text() == "y" and (tmp_path / "y").read_text() == "x"

    def no_replace(src: str, dst: str) -> None:
        raise AssertionError("os.replace over an existing regular file")
    monkeypatch.setattr(outputs.os, "replace", no_replace)
    (tmp_path / "probe").mkdir()
    _replace_twice(tmp_path / "probe")


@pytest.mark.parametrize("failure", ["missing", "unsupported"])
def test_without_an_exchange_the_output_is_renamed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       failure: str) -> None:
    def unsupported(*args: object) -> int:
        return -1  # as renameat2 answers EINVAL on a file system without RENAME_EXCHANGE
    outputs._renameat2.cache_clear()
    monkeypatch.setattr(outputs, "_renameat2", (lambda: None) if failure == "missing" else (lambda: unsupported))
    _replace_twice(tmp_path)


def test_emit_analysis_refuses_another_zero_free_scheme(tiny: Path) -> None:
    assert_one_line_error(run_cli("lerganc", tiny, "--emit", "analysis", "--zero-free", "deform"),
                          "--emit analysis reports", "--zero-free deform")
    assert run_cli("lerganc", tiny, "--emit", "analysis", "--zero-free", "zfdr").returncode == 0


def test_the_main_jobs_program_is_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "gan.fsm", "gan.fsm.npz", ".x.fsm.lergan-tmp-0a1b"],
                             cwd=EXAMPLES.parent, capture_output=True, text=True)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.stdout.split() == ["gan.fsm", "gan.fsm.npz", ".x.fsm.lergan-tmp-0a1b"]


def _to_full_device(*args: str | Path) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:
        return subprocess.run([str(a) for a in args], stdout=full, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written_is_one_line(tiny: Path) -> None:
    """``> /dev/full``: the staged text (``--emit ir``) and what is printed at the end (lergan-sim's summary,
    flushed as the command leaves) both end in one line and status 2, not a traceback and status 1 or 120."""
    assert_one_line_error(_to_full_device("lerganc", tiny, "--emit", "ir"), "cannot write to stdout")
    assert run_cli("lerganc", tiny, "--batch", "2", "-o", tiny.parent / "p.fsm").returncode == 0
    assert_one_line_error(_to_full_device("lergan-sim", tiny.parent / "p.fsm", "--timing-only"),
                          "lergan-sim: error: cannot write to stdout")


LEAVE = """
import atexit, sys
from lergan_cc.outputs import leave
atexit.register(lambda: print("handler ran"))
print("before", end=" ")
leave("t", 3)
print("not reached")
"""


def test_a_command_leaves_with_its_status_after_the_exit_handlers() -> None:
    """The commands end through ``leave`` (no interpreter tear-down): the status is kept, the ``atexit``
    handlers run (they remove temporaries) and what they and the command printed reaches stdout."""
    proc = subprocess.run([sys.executable, "-c", LEAVE], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "before handler ran\n", "")


@pytest.mark.parametrize("tool", ["lerganc", "lergan-opt", "lergan-sim"])
def test_the_commands_leave_without_tearing_down(tool: str) -> None:
    """Each command's entry point is its ``console`` (``main`` then ``leave``); ``main``, which the tests and
    the API's users call, returns the status and does not end the process."""
    import importlib.metadata

    entry = next(e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == tool)
    module = importlib.import_module(entry.module)
    assert entry.attr == "console"
    assert module.main(["no-such-input.lir" if tool == "lergan-opt" else "no-such-input.fsm"]) == 2

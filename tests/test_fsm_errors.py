"""Bad programs and bad tensors: one line with file:line:column where it applies, exit 2, no output file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lergan_cc.cli.lergan_sim import main as sim
from lergan_cc.cli.lerganc import main as lerganc

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "onnx"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    out = tmp_path_factory.mktemp("p") / "g.fsm"
    assert lerganc([str(EXAMPLES / "dcgan_g.onnx"), "--mode", "infer", "--batch", "2", "-o", str(out)]) == 0
    return out.read_text(), Path(f"{out}.npz").read_bytes()


def _run(tmp: Path, text: str, npz: bytes | None, *args: str) -> tuple[int, str, Path]:
    prog = tmp / "p.fsm"
    prog.write_text(text)
    if npz is not None:
        Path(f"{prog}.npz").write_bytes(npz)
    out = tmp / "out.npz"
    return sim([str(prog), "--outputs", str(out), *args]), str(prog), out


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


CORRUPTIONS = {  # class -> (old, new, expected message fragment)
    "bad token": ("act dst=%fake", "act dst=?fake", "unexpected character"),
    "unknown instruction": ("act dst=%fake", "frobnicate dst=%fake", "unknown instruction 'frobnicate'"),
    "unknown operand": ("fn=tanh", "fn=tanh speed=3", "unknown operand 'speed'"),
    "enum out of range": ("fn=tanh", "fn=softsign", "expected one of"),
    "flag out of range": ("acc=0 pad=0\n  bias dst=%fc", "acc=2 pad=0\n  bias dst=%fc", "expected 0 or 1"),
    "undeclared buffer": ("act dst=%fake src=%tconv2", "act dst=%fake src=%nowhere", "undeclared buffer 'nowhere'"),
    "window out of range": ("win=[0j+<1,-1,2>, 0j+<1,-1,2>]", "win=[0j+<9,-1,2>, 0j+<1,-1,2>]",
                            "window reads outside"),
    "bad transition": ("  goto run", "  goto nowhere", "unknown state 'nowhere'"),
    "duplicate operand": ("fn=tanh", "fn=tanh fn=relu", "act: duplicate operand 'fn'"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_malformed_program(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes],
                           case: str) -> None:
    text, npz = program
    old, new, message = CORRUPTIONS[case]
    assert old in text
    bad = text.replace(old, new, 1)
    rc, path, out = _run(tmp_path, bad, npz)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert f"{path}:{_line_of(bad, new.splitlines()[0].strip())}:" in err
    assert not out.exists()


def test_positions_are_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes]) -> None:
    """line:column of the instruction, of the operand, of the state keyword (tokens carry them)."""
    text, npz = program
    cases = [("act dst=%fake", "frobnicate dst=%fake", "frobnicate"), ("fn=tanh", "fn=tanh fn=relu", "fn=relu")]
    for old, new, at in cases:
        bad = text.replace(old, new, 1)
        line = _line_of(bad, new)
        column = bad.splitlines()[line - 1].index(at) + 1
        _run(tmp_path, bad, npz)
        assert f":{line}:{column}: " in capsys.readouterr().err
    bad = text.replace("  goto run", "  halt\n  goto run", 1)
    state_line = max(i for i, ln in enumerate(bad.splitlines(), 1) if ln.startswith("state ")
                     and i < _line_of(bad, "  halt"))
    _run(tmp_path, bad, npz)
    assert f":{state_line}:1: state " in capsys.readouterr().err


def test_version_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes]) -> None:
    rc, path, _ = _run(tmp_path, program[0].replace("lergan-fsm 3", "lergan-fsm 7", 1), program[1])
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:1:" in err and "version 7 is not supported" in err


def test_missing_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes]) -> None:
    rc, path, out = _run(tmp_path, program[0], None)
    assert rc == 2 and f"{path}.npz: missing sidecar" in capsys.readouterr().err and not out.exists()


def _npz(tmp: Path, **arrays: np.ndarray) -> bytes:
    np.savez(tmp / "x.npz", **arrays)
    return (tmp / "x.npz").read_bytes()


@pytest.mark.parametrize(("change", "message"), [
    ("drop", "missing key 'fc.weight'"), ("shape", "has shape [3, 3], expected [16, 512]"),
    ("dtype", "has dtype float64, expected float32")])
def test_bad_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes], change: str,
                     message: str) -> None:
    (tmp_path / "s.npz").write_bytes(program[1])
    with np.load(tmp_path / "s.npz") as data:
        arrays = {k: data[k] for k in data.files}
    if change == "drop":
        del arrays["fc.weight"]
    else:
        arrays["fc.weight"] = np.zeros((3, 3), np.float32) if change == "shape" else arrays["fc.weight"].astype(float)
    rc, path, out = _run(tmp_path, _unsealed(program[0]), _npz(tmp_path, **arrays))
    err = capsys.readouterr().err
    assert rc == 2 and message in err and f"(declared at {path}:" in err and not out.exists()


def _unsealed(text: str) -> str:
    """A hand-made pair: the program records no sidecar digest, so the loader checks the tensors alone."""
    return re.sub(r' sidecar="[^"]*"', "", text, count=1)


def test_mismatched_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes]) -> None:
    """A sidecar that is not the one written with the program (same keys, other values) is refused."""
    (tmp_path / "s.npz").write_bytes(program[1])
    with np.load(tmp_path / "s.npz") as data:
        arrays = {k: data[k] * 2 for k in data.files}
    assert 'sidecar="sha256:' in program[0].splitlines()[1]
    rc, path, out = _run(tmp_path, program[0], _npz(tmp_path, **arrays))
    assert rc == 2 and f"{path}.npz: not the sidecar of {path}" in capsys.readouterr().err and not out.exists()
    rc, _, out = _run(tmp_path, _unsealed(program[0]), _npz(tmp_path, **arrays))
    assert rc == 0 and out.exists()


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes]) -> None:
    np.savez(tmp_path / "in.npz", noise=np.zeros((5, 16), np.float32))
    rc, _, out = _run(tmp_path, program[0], program[1], "--inputs", str(tmp_path / "in.npz"))
    assert rc == 2 and "key 'noise' has shape [5, 16], expected [2, 16]" in capsys.readouterr().err
    assert not out.exists()


def test_weight_override_and_outputs(tmp_path: Path, program: tuple[str, bytes]) -> None:
    """--inputs may override weights by key; a zero dense layer and zero bias give tanh(0) = 0 everywhere else."""
    x = np.ones((2, 16), np.float32)
    np.savez(tmp_path / "in.npz", noise=x, **{"fc.weight": np.zeros((16, 512), np.float32)})
    rc, _, out = _run(tmp_path, program[0], program[1], "--inputs", str(tmp_path / "in.npz"))
    assert rc == 0 and np.load(out)["fake"].shape == (2, 3, 16, 16)


@pytest.mark.parametrize("flag", [["--report", "r.json"], ["--trace", "t.json"], ["--precision", "fixed16"]])
def test_timing_flags_work(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes],
                           flag: list[str]) -> None:
    """The timing model's flags (issue 6) run: exit 0, the outputs and the named file written."""
    args = [a if not a.endswith(".json") else str(tmp_path / a) for a in flag]
    rc, _, out = _run(tmp_path, program[0], program[1], *args)
    assert rc == 0 and out.exists()
    assert all(Path(a).exists() for a in args if a.endswith(".json"))


def test_timing_only_refuses_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     program: tuple[str, bytes]) -> None:
    rc, _, out = _run(tmp_path, program[0], program[1], "--timing-only")
    err = capsys.readouterr().err
    assert rc == 2 and "--timing-only computes no tensors" in err and err.count("\n") == 1 and not out.exists()


# ---- instruction tables (FSM version 3) ------------------------------------------------------------
USE = "mmv dst=%tconv1 src=%project mode=fwd acc=0 pad=0 rows=&tconv1.mmv"
TABLE_ERRORS = {  # class -> (old, new, message fragment, a text of the line the error is at)
    "unknown table": (USE, USE.replace("&tconv1.mmv", "&nowhere"), "mmv: unknown table &nowhere", "&nowhere"),
    "table of another opcode": (USE, USE.replace("&tconv1.mmv", "&tconv1.write"),
                                "mmv: table &tconv1.write (line", "pad=0 rows=&tconv1.write"),
    "operand on the line and in a row": (USE, USE.replace("acc=0", "acc=0 mat=$fc.k0"),
                                         "mmv: operand 'mat' both here and in row 1 of table &tconv1.mmv",
                                         "acc=0 mat=$fc.k0"),
    "empty table": ("\nstate init {", "\ntable &spare mmv {\n}\n\nstate init {", "table &spare has no rows",
                    "table &spare"),
    "table defined twice": ("table &tconv2.write write {", "table &tconv1.write write {",
                            "table &tconv1.write defined twice (first at line",
                            "table &tconv1.write write {\n  mat=$tconv2"),
    "table never used": ("  write src=@tconv2.weight layout=tconv rows=&tconv2.write\n", "",
                         "table &tconv2.write is never used", "table &tconv2.write"),
    "row naming a table": ("mat=$tconv1.k3 taps", "rows=&tconv2.write mat=$tconv1.k3 taps",
                           "table &tconv1.write: a row cannot name a table", "rows=&tconv2.write mat="),
    "table in a version-2 program": ("lergan-fsm 3", "lergan-fsm 2",
                                     "table &tconv1.write: tables need FSM version 3 (this program is version 2)",
                                     "table &tconv1.write"),
    "table name without &": ("table &tconv2.write write {", "table $tconv2.write write {",
                             "table names start with &", "table $tconv2.write"),
    "bad row": ("mat=$tconv1.k3 taps", "mat= taps", "unexpected", "mat= taps"),
    "row operand of the line's instruction": ("  mat=$tconv1.k5 rect", "  mat=$nowhere rect",
                                              "mmv mat: undeclared matrix 'nowhere' (table &tconv1.mmv, used at line",
                                              "mat=$nowhere"),
    "line operand of a table's instructions": (USE, USE.replace("src=%project", "src=%nowhere"),
                                               "mmv src: undeclared buffer 'nowhere' (table &tconv1.mmv, row at line",
                                               "src=%nowhere"),
    "a row's window, found by the simulator": ("win=[0j+<0,1,1>, 0j+<0,1,1>]", "win=[0j+<9,1,1>, 0j+<0,1,1>]",
                                               "mmv: window reads outside %project [2, 32, 4, 4] (pad=0) (table "
                                               "&tconv1.mmv, used at line", "0j+<9,1,1>"),
    "loop nest of a row": ("  mat=$tconv1.k5 rect=[<1,2,3>", "  mat=$tconv1.k5 rect=[<1,2,9>",
                           "mmv rect: loop nest writes outside %tconv1", "rect=[<1,2,9>"),
}


@pytest.mark.parametrize("case", sorted(TABLE_ERRORS))
def test_table_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], program: tuple[str, bytes],
                      case: str) -> None:
    """Every table error is one line at the line, table or row it is about, exit 2, no output."""
    text, npz = program
    old, new, message, at = TABLE_ERRORS[case]
    assert text.count(old) == 1
    bad = text.replace(old, new, 1)
    rc, path, out = _run(tmp_path, bad, npz)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert bad.count(at) == 1
    assert f"{path}:{bad[:bad.index(at)].count(chr(10)) + 1}:" in err, err
    assert not out.exists()


def test_table_rows_run_in_order(tmp_path: Path, program: tuple[str, bytes]) -> None:
    """The program spelled without tables (each row's instruction on its own line) computes the same output."""
    from lergan_cc.fsm.asm import parse_fsm
    from lergan_cc.fsm.printer import print_program
    from tests.test_fsm_roundtrip import unfolded

    text, npz = program
    assert "rows=&" in text
    flat = print_program(unfolded(parse_fsm(text, "p.fsm")))
    assert "rows=&" not in flat and "\ntable " not in flat
    outs = []
    for name, t in (("a", text), ("b", flat)):
        (tmp_path / name).mkdir()
        rc, _, out = _run(tmp_path / name, t, npz)
        assert rc == 0
        outs.append(np.load(out)["fake"])
    assert np.array_equal(outs[0], outs[1])

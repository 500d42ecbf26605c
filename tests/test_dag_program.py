"""DAG generator programs as text: the assembler reads them back identically, and a DAG instruction that does
not fit its buffers is one line with file:line:column, exit 2, no output file (as tests/test_fsm_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lergan_cc.cli.lergan_sim import main as sim
from lergan_cc.cli.lerganc import main as lerganc
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.printer import print_program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "onnx"


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes]]:
    out = {}
    for name in ("cyclegan_g", "unet_g", "resize_g"):
        for mode in ("infer", "train"):
            path = tmp_path_factory.mktemp(name) / f"{name}.fsm"
            extra = ["--discriminator", str(EXAMPLES / "patch_d.onnx")] if mode == "train" else []
            assert lerganc([str(EXAMPLES / f"{name}.onnx"), *extra, "--mode", mode, "--batch", "2",
                            "-o", str(path)]) == 0
            out[f"{name}.{mode}"] = (path.read_text(), Path(f"{path}.npz").read_bytes())
    return out


@pytest.mark.parametrize("key", [f"{n}.{m}" for n in ("cyclegan_g", "unet_g", "resize_g") for m in ("infer", "train")])
def test_dag_programs_round_trip(programs: dict[str, tuple[str, bytes]], key: str) -> None:
    text = programs[key][0]
    assert print_program(parse_fsm(text, "p.fsm")) == text


CORRUPTIONS = {  # (program, old, new, message)
    "insert outside": ("unet_g", "insert dst=%skip3 src=%up3.bn axis=0 at=8",
                       "insert dst=%skip3 src=%up3.bn axis=0 at=9",
                       "insert: %up3.bn [2, 8, 4, 4] at 9 on axis 0 is not a part of %skip3 [2, 16, 4, 4]"),
    "pad mode": ("cyclegan_g", "mode=reflect before=[0, 3, 3]", "mode=mirror before=[0, 3, 3]", "expected one of"),
    "pad size": ("cyclegan_g", "mode=reflect before=[0, 3, 3]", "mode=reflect before=[0, 2, 3]",
                 "pad: %x [2, 3, 16, 16] padded by [0, 2, 3]/[0, 3, 3] is not %pad0 [2, 3, 22, 22]"),
    "upsample scales": ("resize_g", "upsample dst=%up1 src=%project scales=[2, 2]",
                        "upsample dst=%up1 src=%project scales=[3, 2]", "is not %up1"),
    "vadd shapes": ("cyclegan_g", "vadd dst=%res1 a=%down2.relu b=%res1.in2",
                    "vadd dst=%res1 a=%down2.relu b=%res1.pad1", "differ in shape"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_bad_dag_instruction_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         programs: dict[str, tuple[str, bytes]], case: str) -> None:
    name, old, new, message = CORRUPTIONS[case]
    text, npz = programs[f"{name}.infer"]
    assert old in text
    bad = text.replace(old, new, 1)
    prog = tmp_path / "p.fsm"
    prog.write_text(bad)
    Path(f"{prog}.npz").write_bytes(npz)
    out = tmp_path / "out.npz"
    rc = sim([str(prog), "--outputs", str(out)])
    err = capsys.readouterr().err
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if new in s)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err and f"{prog}:{line}:" in err, err
    assert not out.exists()

"""The assembler reads emitted programs back and re-prints them identically; program size does not grow with batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.isa import ISA
from lergan_cc.fsm.printer import print_program
from lergan_cc.options import Options
from tests.conftest import compiled

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "ISA.md"


def _emit(model: str, **options: object) -> str:
    return compiled(ROOT / model, Options(**options)).text  # type: ignore[arg-type]


@pytest.mark.parametrize("zero_free", ["zfdr", "deform", "none"])
@pytest.mark.parametrize("target", ["lergan-3d", "htree-2d"])
def test_roundtrip_gan(zero_free: str, target: str) -> None:
    text = _emit("examples/onnx/dcgan_g.onnx", discriminator=str(ROOT / "examples/onnx/dcgan_d.onnx"),
                 zero_free=zero_free, target=target, batch=4)
    assert print_program(parse_fsm(text, "gan.fsm")) == text


@pytest.mark.parametrize("replica", ["none", "high"])
def test_roundtrip_dsl(replica: str) -> None:
    text = _emit("examples/tiny_asym.lergan", replica=replica, batch=2)
    assert print_program(parse_fsm(text, "tiny.fsm")) == text


def test_dcgan_program_is_compact() -> None:
    """Loops with affine windows: the text is < 1 MB and batch 8 vs 64 differ by < 1 % (only the header)."""
    small, big = _emit("examples/dcgan.lergan", batch=8), _emit("examples/dcgan.lergan", batch=64)
    assert len(big) < 1_000_000
    assert abs(len(big) - len(small)) < 0.01 * len(big)


def test_every_instruction_is_documented() -> None:
    doc = DOCS.read_text()
    missing = [name for name in ISA if f"`{name}`" not in doc]
    assert not missing, f"docs/ISA.md does not document {missing}"

"""The assembler reads emitted programs back and re-prints them identically; program size does not grow with batch;
instruction tables (FSM version 3) only factor the text: the program they spell is the one without them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.isa import ISA
from lergan_cc.fsm.printer import print_program
from lergan_cc.fsm.program import FSM_VERSION, Program
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


# ---- instruction tables ------------------------------------------------------------------------------
def unfolded(p: Program, version: int = FSM_VERSION) -> Program:
    """The same program spelled without tables: every instruction on its own line (a version-2 text when
    ``version`` is 2)."""
    return dataclasses.replace(p, version=version, tables=[],
                               states=[dataclasses.replace(s, folds=[]) for s in p.states])


def _bodies(p: Program) -> list[list[tuple[str, Any]]]:
    return [[(i.op, sorted(i.operands.items(), key=lambda kv: kv[0])) for i in s.body] for s in p.states]


@pytest.mark.parametrize(("model", "options"), [
    ("examples/3dgan.lergan", {"replica": "middle", "data_parallel": "auto", "overlap": "paper"}),
    ("examples/dcgan.lergan", {"zero_free": "deform", "target": "htree-2d"}),
    ("examples/cgan.lergan", {"replica": "high"}),
    ("examples/tiny_asym.lergan", {"replica": "high", "batch": 2}),
])
def test_tables_spell_the_unfolded_program(model: str, options: dict[str, object]) -> None:
    """The instructions a program with tables expands to are, one for one, those of the same program printed
    without tables (version 2's spelling, which version 3 still reads) and those the compiler built; the
    tables are shared by the states that repeat a layer's run, each used at least once and of 2 rows or more
    (an inference program, ``tiny_asym``, runs each layer once: one use per table)."""
    emitted = compiled(ROOT / model, Options(**options))  # type: ignore[arg-type]
    text = emitted.text
    parsed = parse_fsm(text, "p.fsm")
    assert print_program(parsed) == text
    assert parsed.version == 3 and parsed.tables
    if parsed.kind == "gan":  # training repeats layers' runs in several states: some table serves several
        assert text.count(" rows=&") > len(parsed.tables)
    v2 = print_program(unfolded(parsed, 2))
    assert v2.startswith("lergan-fsm 2\n") and " rows=&" not in v2 and "\ntable " not in v2
    assert len(v2) > len(text)
    flat = parse_fsm(v2, "v2.fsm")
    assert print_program(flat) == v2
    assert _bodies(parsed) == _bodies(flat) == _bodies(emitted.fsm)
    assert all(len(t.rows) >= 2 for t in parsed.tables)
    uses = [f.table for s in parsed.states for f in s.folds]
    assert set(uses) == {t.name for t in parsed.tables}

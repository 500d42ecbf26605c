"""The timing model on DAG generators: every new instruction costs what docs/timing.md says, and a DAG GAN
is timed the same with and without the arithmetic.

docs/timing.md: a peripheral or buffer instruction streams BArray words (128 bits, 8 values) through the
tile: latency = tile read + tile write + max(read words, written words) I/O cycles; energy = words x tile
read/write pJ (buffers) + ALU operations x adder pJ (compute). What each opcode reads, writes and
computes per element is listed here from the documentation, not taken from the cost table.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lergan_cc.fsm.program import Instr, Program
from lergan_cc.options import Options
from lergan_cc.sim.costs import Context, static_cost
from lergan_cc.sim.driver import SimOptions, simulate
from lergan_cc.sim.layout import Unit
from tests.conftest import compiled

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "onnx"
BATCH = 4
# opcode -> (words read, words written, ALU operations) from the values of dst (d) and src (s); W(n) = ceil(n/8)
DOCUMENTED = {
    "vadd": lambda d, s, W: (2 * W(d), W(d), d),
    "insert": lambda d, s, W: (W(s), W(s), 0),
    "extract": lambda d, s, W: (W(d), W(d), 0),
    "pad": lambda d, s, W: (W(s), W(d), 0),
    "pad_grad": lambda d, s, W: (W(s), W(d), s),
    "upsample": lambda d, s, W: (W(s), W(d), 0),
    "upsample_grad": lambda d, s, W: (W(s), W(d), s),
    "inorm": lambda d, s, W: (2 * W(d), W(d), 5 * d),
    "inorm_grad": lambda d, s, W: (3 * W(d), W(d), 8 * d),
    "dropout": lambda d, s, W: (W(d), 2 * W(d), 2 * d),
    "dropout_grad": lambda d, s, W: (2 * W(d), W(d), d),
}


def _program(generator: str) -> Program:
    options = Options(discriminator=str(EXAMPLES / "patch_d.onnx"), batch=BATCH)
    return compiled(str(EXAMPLES / f"{generator}.onnx"), options).fsm


def _values(program: Program, ins: Instr, operand: str) -> int:
    ref = ins.operands.get(operand)
    if ref is None or ref.kind != "buf":  # type: ignore[union-attr]
        return 0
    return math.prod(program.table("buffer")[ref.name].shape) * BATCH  # type: ignore[union-attr]


def _words(values: int) -> int:
    return -(-values * 16 // 128)


@pytest.mark.parametrize("generator", ["cyclegan_g", "unet_g", "resize_g"])
def test_dag_instructions_cost_what_the_docs_say(generator: str) -> None:
    program = _program(generator)
    ctx = Context(program, program.hardware("gan.fsm"))
    hw = ctx.hw
    seen = set()
    for state in program.states:
        for ins in state.body:
            if ins.op not in DOCUMENTED:
                continue
            seen.add(ins.op)
            d, s = _values(program, ins, "dst"), _values(program, ins, "src")
            r, w, alu = DOCUMENTED[ins.op](d, s, _words)
            cost = static_cost(ins, ctx, Unit(0, 0, BATCH))
            assert cost.ns == pytest.approx(hw.tile.read_ns + hw.tile.write_ns + max(r, w) * hw.io_cycle_ns), ins
            assert cost.energy["buffers"] == pytest.approx(r * hw.tile.read_pj + w * hw.tile.write_pj), ins
            assert cost.energy["alu"] == pytest.approx(alu * hw.interconnect.adder_pj_per_add), ins
    expected = {"cyclegan_g": {"pad", "pad_grad", "inorm", "inorm_grad", "vadd"},
                "unet_g": {"insert", "extract", "dropout", "dropout_grad"},
                "resize_g": {"upsample", "upsample_grad"}}[generator]
    assert expected <= seen


def test_dag_gan_timing_alone_equals_timing_beside_the_arithmetic() -> None:
    program = _program("unet_g")
    alone = simulate(program, "gan.fsm", {}, SimOptions(timing_only=True))
    both = simulate(program, "gan.fsm", compiled(str(EXAMPLES / "unet_g.onnx"), Options(
        discriminator=str(EXAMPLES / "patch_d.onnx"), batch=BATCH)).tensors, SimOptions(timing=True))
    assert alone.timing is not None and both.timing is not None
    assert alone.timing.now == both.timing.now > 0

"""What a tool checks before any work, beyond its files (:mod:`lergan_cc.outputs`) and numbers
(:mod:`lergan_cc.limits`): pass names and flag combinations that cannot give what was asked for.
"""

from __future__ import annotations

from lergan_cc.errors import LerganError, did_you_mean
from lergan_cc.passes import REGISTRY


def check_pass_name(flag: str, name: str | None, allow_all: bool = False) -> None:
    """A pass name given on the command line is a known pass ("did you mean" when one is close)."""
    if name is None or name in REGISTRY or (allow_all and name == "all"):
        return
    raise LerganError(f"{flag} {name}: not a pass{did_you_mean(name, REGISTRY)} (passes: {', '.join(REGISTRY)})")


def check_compile_flags(emit: str, stop_after: str | None, print_ir_after: str | None, zero_free: str) -> None:
    """``lerganc``'s flags agree with each other before the model is read."""
    check_pass_name("--print-ir-after", print_ir_after, allow_all=True)
    check_pass_name("--stop-after", stop_after)
    if emit == "fsm" and stop_after not in (None, "emit-fsm"):
        raise LerganError(f"--stop-after {stop_after} stops before emit-fsm: no program to write; "
                          "choose a text --emit (ir, ir-json, analysis, placement)")
    if emit == "analysis" and zero_free != "zfdr":
        raise LerganError(f"--emit analysis reports the zero-insertion analysis and LerGAN's ZFDR figures "
                          f"(DESIGN §8), not --zero-free {zero_free}'s matrices: drop --zero-free, or see "
                          f"them with --emit placement")


def check_models(paths: list[str], hw: str | None, batch: int) -> None:
    """Every model of a batch run reads and fits the machine (``import``), and ``hw`` is valid: before the
    first simulation, so a typo is not found an hour in."""
    from lergan_cc.context import CompileContext
    from lergan_cc.options import Options
    from lergan_cc.pipeline import compile_graph

    ctx = CompileContext.create(Options(hw=hw, batch=batch))  # loads and validates the hardware
    for path in paths:
        compile_graph(path, ctx, "ir", "import")


def check_print_after(name: str | None, passes: list[str]) -> None:
    """``lergan-opt --print-ir-after``: one of the passes given to ``-p`` (or ``all``)."""
    if name not in (None, "all", *passes):
        raise LerganError(f"--print-ir-after {name}: not a pass given to -p{did_you_mean(str(name), passes)} "
                          f"({', '.join(passes) or 'none'})")

"""The fuzzer: hypothesis breaks valid inputs of every kind and runs each through the real CLI.

Each example draws two cases and runs them side by side (two cores). Every case must keep the promise
(``harness.check``): exit 2 with one line and nothing touched, or exit 0 with valid outputs. The
default profile is seeded and short; ``LERGAN_FUZZ=long`` draws many more, at random.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.badinput import mutations as mut
from tests.badinput.cases import unsealed
from tests.badinput.conftest import LONG
from tests.badinput.harness import Case, describe, run_case

EXAMPLES = {"lerganc": 8, "lergan-opt": 6, "lergan-sim": 10, "lergan-bench": 2}
SCALE = 25 if LONG else 1
EARLIER = b"an earlier result\n"


def _settings(tool: str) -> settings:
    return settings(
        phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each step is a subprocess
        max_examples=EXAMPLES[tool] * SCALE,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def lerganc_case(s: dict[str, bytes]) -> st.SearchStrategy[Case]:
    @st.composite
    def make(draw: st.DrawFn) -> Case:
        out = draw(
            st.sampled_from(
                [
                    ["-o", "out.fsm"],
                    ["--emit", "ir", "-o", "out.lir"],
                    ["--emit", "analysis"],
                    ["--emit", "placement", "-o", "out.json"],
                    ["--emit", "ir-json", "-o", "out.json"],
                    ["--stop-after", "import", "--emit", "ir", "-o", "out.lir"],
                ]
            )
        )
        outputs = ("out.fsm", "out.fsm.npz", "out.lir", "out.json")
        files = {name: EARLIER for name in outputs if draw(st.booleans())}
        what = draw(st.sampled_from(["dsl", "dsl", "onnx", "hw"]))
        if what == "onnx":
            g, d = s["g.onnx"], s["d.onnx"]
            if draw(st.booleans()):
                g = draw(mut.onnx_damage(g))
            else:
                d = draw(mut.onnx_damage(d))
            return Case(
                "lerganc",
                ["g.onnx", "--discriminator", "d.onnx", "--batch", "2", *out],
                {**files, "g.onnx": g, "d.onnx": d},
                outputs=outputs,
            )
        model = draw(st.sampled_from(["gan.lergan", "vgan.lergan", "net.lergan"]))
        if what == "hw":
            hw = draw(mut.text_damage(s["hw.toml"]))
            return Case(
                "lerganc",
                ["m.lergan", "--hw", "hw.toml", "--batch", "2", *out],
                {**files, "m.lergan": s[model], "hw.toml": hw},
                outputs=outputs,
            )
        batch = draw(st.sampled_from(["2", "2", "1", "0", "-3", "1e3", "100000000", "9" * 30]))
        return Case(
            "lerganc",
            ["m.lergan", "--batch", batch, *out],
            {**files, "m.lergan": draw(mut.text_damage(s[model]))},
            outputs=outputs,
        )

    return make()


def opt_case(s: dict[str, bytes]) -> st.SearchStrategy[Case]:
    @st.composite
    def make(draw: st.DrawFn) -> Case:
        lir = draw(st.sampled_from(["gan.lir", "net.lir"]))
        passes = {
            "gan.lir": ["zfdr", "deform", "normal-reshape", "zfdr,replicate"],
            "net.lir": ["zero-insertion", "zero-insertion,zfdr", "expand-training"],
        }[lir]
        args = ["in.lir", "-p", draw(st.sampled_from(passes)), "-o", "out.lir"]
        files = {"in.lir": s[lir], "out.lir": EARLIER}
        if draw(st.integers(0, 3)) == 0:
            files["hw.toml"] = draw(mut.text_damage(s["hw.toml"]))
            args += ["--hw", "hw.toml"]
        else:
            files["in.lir"] = draw(mut.text_damage(s[lir]))
        return Case("lergan-opt", args, files, outputs=("out.lir",))

    return make()


def sim_case(s: dict[str, bytes]) -> st.SearchStrategy[Case]:
    @st.composite
    def make(draw: st.DrawFn) -> Case:
        stem = draw(st.sampled_from(["net", "gan", "ognn"]))
        prog, side = s[f"{stem}.fsm"], s[f"{stem}.fsm.npz"]
        inputs = s["net_in.npz" if stem == "net" else "gan_in.npz"]
        what = draw(st.sampled_from(["program", "program", "sidecar", "inputs", "flags"]))
        args = ["p.fsm", "--report", "r.json", "--outputs", "o.npz"]
        if what == "program":
            prog = draw(mut.text_damage(prog))
            if draw(st.booleans()):
                args = ["p.fsm", "--timing-only", "--report", "r.json", "--trace", "t.json"]
        elif what == "sidecar":
            prog, side = unsealed(prog), draw(mut.npz_damage(side))
        elif what == "inputs":
            inputs = draw(mut.npz_damage(inputs))
            args += ["--inputs", "in.npz"]
        else:
            flag = draw(st.sampled_from(["--iterations", "--lr", "--seed"]))
            args += [flag, draw(st.sampled_from(["0", "-1", "2", "nan", "inf", "1e30", "0.5", "9" * 40]))]
        files = {"p.fsm": prog, "p.fsm.npz": side, "in.npz": inputs, "r.json": EARLIER, "o.npz": EARLIER}
        return Case("lergan-sim", args, files, outputs=("r.json", "o.npz", "t.json"))

    return make()


def bench_case(s: dict[str, bytes]) -> st.SearchStrategy[Case]:
    @st.composite
    def make(draw: st.DrawFn) -> Case:
        files = {
            "m.lergan": s["gan.lergan"],
            "hw.toml": s["hw.toml"],
            "b.toml": s["baselines.toml"],
            "o/results.json": EARLIER,
        }
        which = draw(st.sampled_from(["m.lergan", "hw.toml", "b.toml"]))
        files[which] = draw(mut.text_damage(files[which]))
        args = [
            "--models",
            "m.lergan",
            "--configs",
            "prime",
            "--hw",
            "hw.toml",
            "--baselines",
            "b.toml",
            "--out",
            "o",
            "--no-plots",
            "--no-cache",
            "--jobs",
            "1",
            "--batch",
            "2",
        ]
        return Case("lergan-bench", args, files, outputs=("o/results.json", "o/results.csv", "o/tables.md"))

    return make()


STRATEGIES = {"lerganc": lerganc_case, "lergan-opt": opt_case, "lergan-sim": sim_case, "lergan-bench": bench_case}


@pytest.mark.parametrize("tool", sorted(STRATEGIES))
def test_generated_bad_inputs_keep_the_promise(tool: str, seed_files: dict[str, bytes], case_dir: Path) -> None:
    strategy = STRATEGIES[tool](seed_files)

    @_settings(tool)
    @given(st.lists(strategy, min_size=2, max_size=2))
    def run(pair: list[Case]) -> None:
        with ThreadPoolExecutor(len(pair)) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, case_dir, generated=True), pair))
        broken = [describe(o) for o in outcomes if o.problems]
        assert not broken, "\n".join(broken)

    run()

"""The Python API: what the CLIs print and write, without files or subprocesses; one exception type."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

import lergan_cc
from lergan_cc import api
from tests.conftest import EXAMPLES, ROOT, run_cli

ONNX_G, ONNX_D = EXAMPLES / "onnx" / "dcgan_g.onnx", EXAMPLES / "onnx" / "dcgan_d.onnx"


def test_timing_equals_lergan_sim_report(tmp_path: Path) -> None:
    """The issue's one-liner prints the same time as ``lergan-sim --timing-only --report``."""
    line = ("import lergan_cc; p = lergan_cc.compile('examples/dcgan.lergan'); "
            "r = lergan_cc.simulate(p, timing_only=True); print(r.report['time_ns'])")
    via_api = subprocess.run(["python", "-c", line], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run_cli("lerganc", EXAMPLES / "dcgan.lergan", "-o", tmp_path / "d.fsm").returncode == 0
    proc = run_cli("lergan-sim", tmp_path / "d.fsm", "--timing-only", "--report", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert float(via_api.stdout) == report["time_ns"]


def test_program_text_and_tensors_equal_lerganc(tmp_path: Path) -> None:
    program = lergan_cc.compile(ONNX_G, discriminator=ONNX_D, batch=4, replica="middle")
    program.save(tmp_path / "api.fsm")
    assert run_cli("lerganc", ONNX_G, "--discriminator", ONNX_D, "--batch", "4", "--replica", "middle",
                   "-o", tmp_path / "cli.fsm").returncode == 0
    assert (tmp_path / "api.fsm").read_text() == (tmp_path / "cli.fsm").read_text() == program.text
    with np.load(tmp_path / "api.fsm.npz") as a, np.load(tmp_path / "cli.fsm.npz") as b:
        assert sorted(a.files) == sorted(b.files) == sorted(program.tensors)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_model_as_dsl_text_and_as_modelproto() -> None:
    text = (EXAMPLES / "dcgan.lergan").read_text()
    from_text = lergan_cc.compile(text, batch=2)
    from_path = lergan_cc.compile(EXAMPLES / "dcgan.lergan", batch=2)
    assert from_text.text.split("\n", 2)[2] == from_path.text.split("\n", 2)[2]  # the model name differs
    proto = onnx.load(ONNX_G)
    assert lergan_cc.compile(proto, mode="infer", batch=2).kind == "net"


def test_inference_outputs_and_training_outputs() -> None:
    net = lergan_cc.compile(ONNX_G, mode="infer", batch=2)
    noise = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
    out = lergan_cc.simulate(net, inputs={"noise": noise}, timing=False)
    assert out.report is None and list(out.outputs) == ["fake"] and out.outputs["fake"].shape == (2, 3, 16, 16)
    gan = lergan_cc.compile(ONNX_G, discriminator=ONNX_D, batch=2)
    trained = lergan_cc.simulate(gan, iterations=2)
    assert len(trained.losses["loss_d"]) == 2 and trained.report is not None
    params = {k for k in gan.tensors if not k.startswith("onnx:")}  # the sidecar also keeps the source models
    assert set(trained.outputs) == params | {"loss_d", "loss_g"} and {"onnx:G", "onnx:D"} <= set(gan.tensors)
    assert trained.outputs["G/fc.weight"].shape == (512, 16)  # the model's Gemm(transB=1) layout, not the IR's


def test_analyze_equals_emit_analysis() -> None:
    proc = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--emit", "analysis")
    assert lergan_cc.analyze(EXAMPLES / "dcgan.lergan") == json.loads(proc.stdout)


@pytest.mark.parametrize(("call", "needle"), [
    (lambda: lergan_cc.compile(EXAMPLES / "dcgan.lergan", zero_free="magic"), "zero_free 'magic'"),
    (lambda: lergan_cc.compile(EXAMPLES / "dcgan.lergan", batch=0), "batch 0"),
    (lambda: lergan_cc.compile(EXAMPLES / "missing.lergan"), "no such file"),
    (lambda: lergan_cc.compile("gan {\n generator 100f\n}"), "<dsl>:"),
    (lambda: lergan_cc.compile(3.5), "cannot compile a float"),
    (lambda: lergan_cc.simulate(EXAMPLES / "missing.fsm"), "no such file"),
    (lambda: lergan_cc.simulate(lergan_cc.compile(ONNX_G, mode="infer", batch=1), iterations=0), "iterations 0"),
])
def test_errors_are_one_exception_with_the_cli_line(call: object, needle: str) -> None:
    with pytest.raises(lergan_cc.LerganError) as e:
        call()  # type: ignore[operator]
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_the_docs_example_runs(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert code is not None
    os.symlink(EXAMPLES, tmp_path / "examples")
    proc = subprocess.run(["python", "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "dcgan gan 8" and float(lines[3]) < float(lines[2].split()[0])
    assert (tmp_path / "gan.fsm").is_file() and (tmp_path / "gan.fsm.npz").is_file()


def test_package_loads_names_lazily() -> None:
    """Importing one submodule does not import the compiler (the API's names load on first use)."""
    probe = "import sys, lergan_cc.fsm.values; print('lergan_cc.pipeline' in sys.modules)"
    out = subprocess.run(["python", "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert api.compile is lergan_cc.compile

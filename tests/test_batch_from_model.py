"""The batch compiled for: ``--batch`` when given, else the ONNX model's static batch, else 64 (DESIGN §8).

The issue that asked for it: ``lerganc model.onnx --mode infer`` on a model declaring batch 1 compiled for 64
and the simulator then refused the model's own input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lergan_cc
from lergan_cc.errors import LerganError
from tests.conftest import assert_one_line_error, run_cli


def net(path: Path, batch: int | str, inp: str = "x", out: str = "y", sigmoid: bool = False) -> Path:
    """A Cx3x3 -> 2x3x3 conv (C = 1; a discriminator: C = 2, then a dense logit and a sigmoid), with batch
    ``batch``."""
    rng = np.random.default_rng(0)
    channels = 2 if sigmoid else 1
    nodes = [helper.make_node("Conv", [inp, "w"], ["c"], name="c", pads=[1, 1, 1, 1])]
    inits = [numpy_helper.from_array(rng.standard_normal((2, channels, 3, 3)).astype(np.float32), "w")]
    if sigmoid:
        nodes += [helper.make_node("Flatten", ["c"], ["f"], name="f"),
                  helper.make_node("Gemm", ["f", "v"], ["z"], name="z"), helper.make_node("Sigmoid", ["z"], [out])]
        inits.append(numpy_helper.from_array(rng.standard_normal((18, 1)).astype(np.float32), "v"))
    else:
        nodes[0].output[0] = out
    x = helper.make_tensor_value_info(inp, TensorProto.FLOAT, [batch, channels, 3, 3])
    graph = helper.make_graph(nodes, "m", [x], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def header(program: lergan_cc.Program) -> str:
    return program.text.splitlines()[1]


def test_the_issue_command_runs_on_the_models_own_input(tmp_path: Path) -> None:
    model = net(tmp_path / "m.onnx", 1)
    assert run_cli("lerganc", model, "--mode", "infer", "-o", tmp_path / "m.fsm").returncode == 0
    assert " batch=1 batch_from=model " in (tmp_path / "m.fsm").read_text().splitlines()[1]
    np.savez(tmp_path / "in.npz", x=np.ones((1, 1, 3, 3), np.float32))
    proc = run_cli("lergan-sim", tmp_path / "m.fsm", "--inputs", tmp_path / "in.npz", "--report", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert "y: shape [1, 2, 3, 3]" in proc.stdout and "batch 1 (the model's)" in proc.stdout


@pytest.mark.parametrize(("batch", "given", "want", "origin"), [
    (1, None, 1, "model"), (1, 4, 4, "option"), ("N", None, 64, "default"), ("N", 3, 3, "option"), (2, 2, 2, "model")])
def test_batch_and_where_it_came_from(tmp_path: Path, batch: int | str, given: int | None, want: int,
                                      origin: str) -> None:
    program = lergan_cc.compile(net(tmp_path / "m.onnx", batch), batch=given)
    assert program.batch == want and f" batch={want} batch_from={origin} " in header(program)
    report = lergan_cc.simulate(program, timing_only=True).report
    assert report is not None and report["batch"] == want and report["batch_from"] == origin


def test_generator_and_discriminator_must_agree(tmp_path: Path) -> None:
    g, d2, d3, dn = (net(tmp_path / "g.onnx", 2, "noise", "fake"), net(tmp_path / "d2.onnx", 2, "item", "p", True),
                     net(tmp_path / "d3.onnx", 3, "item", "p", True), net(tmp_path / "dn.onnx", "N", "item", "p", True))
    assert lergan_cc.compile(g, discriminator=d2).batch == 2
    assert lergan_cc.compile(g, discriminator=dn).batch == 2
    assert lergan_cc.compile(g, discriminator=d3, batch=5).batch == 5  # --batch decides for both
    with pytest.raises(LerganError, match=r"the generator g has a static batch of 2, the discriminator d3 one of 3"):
        lergan_cc.compile(g, discriminator=d3)
    assert_one_line_error(run_cli("lerganc", g, "--discriminator", d3, "-o", tmp_path / "x.fsm"),
                          "static batch of 2", "one of 3")
    assert not (tmp_path / "x.fsm").exists()

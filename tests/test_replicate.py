"""replicate: Table III for zero-free phases, Eq. 14 for normal ones, reuse caps, capacity reduction."""

from __future__ import annotations

import copy
import math
from functools import cache
from pathlib import Path

import pytest

from lergan_cc.ir.attrs import PlacementSummary, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.mapping.matrices import crossbars, matrices, matrix_ops
from lergan_cc.options import REPLICAS, Options
from lergan_cc.targets.hw import load_hw
from tests.conftest import lower, run_pass

EXAMPLES = Path(__file__).parent.parent / "examples"
BENCHMARKS = ("3dgan", "artgan_cifar10", "cgan", "dcgan", "discogan_4pairs", "discogan_5pairs", "gpgan",
              "magan_mnist")
PLACER = {"lergan-3d": "place-3d", "htree-2d": "place-htree"}


@cache
def reshaped(model: str, zero_free: str = "zfdr") -> Graph:
    """A benchmark compiled once up to its reshaping pass; callers get copies."""
    stop = {"zfdr": "zfdr", "deform": "deform", "none": "normal-reshape"}[zero_free]
    return lower(str(EXAMPLES / f"{model}.lergan"), Options(zero_free=zero_free), stop_after=stop)


def run(model: str, degree: str, target: str | None = None, zero_free: str = "zfdr", hw: str | None = None) -> Graph:
    """replicate (and the target's placer when given) on a copy of the reshaped benchmark."""
    options = Options(replica=degree, target=target or "lergan-3d", zero_free=zero_free, hw=hw)
    g = run_pass("replicate", copy.deepcopy(reshaped(model, zero_free)), options)
    return run_pass(PLACER[target], g, options) if target else g


def replicated_crossbars(g: Graph) -> int:
    hw = load_hw(None)
    return sum(n * crossbars(hw, m.shape) for op in matrix_ops(g)
               for m, n in zip(matrices(op), op.need(Replicas).to_value()["per_kind"], strict=True))


@pytest.mark.parametrize("model", BENCHMARKS)
def test_schema_caps_and_none(model: str) -> None:
    for degree in REPLICAS:
        for op in matrix_ops(run(model, degree)):
            rep, ms = op.need(Replicas).to_value(), matrices(op)
            assert rep["degree"] == degree
            assert len(rep["per_kind"]) == len(ms)
            assert all(1 <= n <= max(1, m.reuse) for n, m in zip(rep["per_kind"], ms, strict=True))
            if degree == "none":
                assert rep["rule"] == "one" and set(rep["per_kind"]) == {1}
            else:
                assert rep["rule"] == ("table3" if op.need(Reshape).to_value()["scheme"] != "normal" else "eq14")
            if rep["rule"] == "table3":  # Corner: 1, or Edge copies when the Corner is reused
                e = 1 if degree == "low" else rep["e_max"]
                assert all(n == min(m.reuse, e) for n, m in zip(rep["per_kind"], ms, strict=True)
                           if m.cls == "Corner")


def test_reused_corner_gets_edge_copies() -> None:
    """DCGAN D4 D_wgrad (W-CONV-S, K5 S2 P2): its Corner kind covers 2 x 2 taps; at middle it gets as
    many copies as the Edge kinds (up to its reuse), so it no longer sets the rounds alone."""
    ops = {op.name: op for op in matrix_ops(run("dcgan", "middle"))}
    rep, ms = ops["D4.wgrad"].need(Replicas).to_value(), matrices(ops["D4.wgrad"])
    corners = [(n, m.reuse) for n, m in zip(rep["per_kind"], ms, strict=True) if m.cls == "Corner"]
    assert max(reuse for _, reuse in corners) == 4
    assert all(n == min(reuse, rep["e_max"]) for n, reuse in corners) and rep["e_max"] > 1
    rounds = max(math.ceil(m.reuse / n) for n, m in zip(rep["per_kind"], ms, strict=True))
    assert rounds == 1


def test_dcgan_g2_table3() -> None:
    """G2 (Corner/Edge/Inside reuse 1/3,2/9,6,4): LL = 3 Inside positions per axis."""
    ops = {op.name: op for op in matrix_ops(run("dcgan", "high"))}
    rep, ms = ops["G2"].need(Replicas).to_value(), matrices(ops["G2"])
    assert rep["loop_length"] == 3 and rep["e_max"] >= 1
    e, i = rep["e_max"], 3 * rep["e_max"]
    want = {"Corner": lambda m: 1, "Edge": lambda m: min(m.reuse, e), "Inside": lambda m: min(m.reuse, i)}
    assert rep["per_kind"] == [want[m.cls](m) for m in ms]


def test_dcgan_g5_low_middle_high() -> None:
    """Table III rows on G5: low (1, 1, e_max), middle (1, e_max, e_max), high (1, e_max, LL x e_max)."""
    reps = {d: {op.name: op.need(Replicas).to_value() for op in matrix_ops(run("dcgan", d))} for d in REPLICAS[1:]}
    ms = matrices(next(op for op in matrix_ops(reshaped("dcgan")) if op.name == "G5"))
    for degree, (re_, ri) in {"low": (1, "e"), "middle": ("e", "e"), "high": ("e", "ll*e")}.items():
        rep = reps[degree]["G5"]
        e, ll = rep["e_max"], rep["loop_length"]
        values = {"e": e, "ll*e": ll * e, 1: 1}
        expect = [1 if m.cls == "Corner" else min(m.reuse, values[re_ if m.cls == "Edge" else ri]) for m in ms]
        assert rep["per_kind"] == expect, degree


def test_eq14_sizes_normal_parts_against_zero_free_parts() -> None:
    """G2.err (normal, 16 rounds): middle ceil(s_zf / 2 s_n), high ceil(s_zf / s_n), s_zf = replicated G2."""
    hw = load_hw(None)
    for degree, div in (("middle", 2), ("high", 1)):
        ops = {op.name: op for op in matrix_ops(run("dcgan", degree))}
        s_zf = sum(n * crossbars(hw, m.shape) for m, n in
                   zip(matrices(ops["G2"]), ops["G2"].need(Replicas).to_value()["per_kind"], strict=True))
        s_zf = max(s_zf, sum(n * crossbars(hw, m.shape) for m, n in
                             zip(matrices(ops["G2.wgrad"]), ops["G2.wgrad"].need(Replicas).to_value()["per_kind"],
                                 strict=True)))
        s_n = crossbars(hw, matrices(ops["G2.err"])[0].shape)
        assert ops["G2.err"].need(Replicas).to_value()["per_kind"] == [min(16, math.ceil(s_zf / (div * s_n)))]
        assert ops["G1"].need(Replicas).to_value()["per_kind"] == [1]  # a dense layer has one round


@pytest.mark.parametrize("model", ["dcgan", "gpgan", "3dgan"])
def test_crossbars_grow_with_degree(model: str) -> None:
    sizes = [replicated_crossbars(run(model, d)) for d in REPLICAS]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes


def test_deform_polyphase_kinds_replicate_like_inside() -> None:
    ops = {op.name: op for op in matrix_ops(run("dcgan", "high", zero_free="deform"))}
    rep = ops["G2"].need(Replicas).to_value()
    assert rep["rule"] == "table3" and max(rep["per_kind"]) > 1


def test_normal_reshape_only_one_copy_everywhere_for_low() -> None:
    for op in matrix_ops(run("dcgan", "low", zero_free="none")):
        assert op.need(Replicas).to_value()["per_kind"] == [1]


def test_short_bank_reduces_copies_with_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Banks of 16 tiles x 2048 crossbars: high on DCGAN must give copies back, say so, and then place."""
    hw = tmp_path / "small.toml"
    hw.write_text("[memory]\ntotal_mib = 4096\nbank_mib = 512\ntile_mib = 32\ncarray_mib = 16\n"
                  "barray_mib = 2\nsarray_mib = 14\n")
    g = run("dcgan", "high", target="lergan-3d", hw=str(hw))
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("lergan_cc: warning: replicate: phase ") for line in err)
    assert len(err) == len({line.split("phase ")[1].split()[0] for line in err})  # one line per phase
    small = load_hw(str(hw))
    assert g.need(PlacementSummary).to_value()["crossbars_used"] <= 6 * small.crossbars_per_bank
    for phase in ("G_fwd", "D_err"):
        assert sum(n * crossbars(small, m.shape) for op in matrix_ops(g) if op.phase == phase
                   for m, n in zip(matrices(op), op.need(Replicas).to_value()["per_kind"], strict=True)) \
            <= small.crossbars_per_bank


def test_a_layer_without_kinds_gets_no_copies() -> None:
    """K < S with output_padding: a 1x1 T-CONV whose extra output positions read no input at all."""
    import subprocess

    from lergan_cc.ir.parser import parse_ir
    from lergan_cc.ir.printer import print_graph

    text = ('lir 2\nmodel "m" net\nparam @w : [2, 2, 1]\n'
            '%x = input : [2, 1] {layer = "x", phase = "fwd"}\n'
            '%t = tconv %x : [2, 1] {dilation = [1], group = 1, kernel = [1], layer = "t", out_channels = 2, '
            'output_padding = [1], pads = [1, 0], phase = "fwd", stride = [2], weight = @w}\noutput %t\n')
    proc = subprocess.run(["lergan-opt", "-", "-p", "zero-insertion,zfdr,replicate"], input=text,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    g = parse_ir(proc.stdout)
    assert g.op("t").need(Reshape).to_value()["kinds"] == []
    assert g.op("t").need(Replicas).to_value()["per_kind"] == []
    assert print_graph(g) == proc.stdout

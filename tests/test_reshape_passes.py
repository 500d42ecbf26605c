"""The reshaping passes on every layer of every Table V benchmark, checked against independent counts.

- zfdr: Σ over kinds of matrix size × reuse (× vectors per position) == macs_useful;
- normal-reshape: one matrix × rounds == macs_zero_inserted;
- deform: never more MACs than normal, never fewer than useful;
- every symmetric-padded T-CONV layer the DSL produced agrees with the paper's Eqs 11-13
  whenever I >= ceil(K/S) (docs/zero-free.md explains the other cases).
"""

from __future__ import annotations

import math
from functools import cache

import pytest

from lergan_cc.ir.attrs import Reshape, ZeroInsertionFigures, ZfdrSummary
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import TConv, _Conv
from lergan_cc.options import Options
from lergan_cc.zerofree import tconv_closed_form
from tests.conftest import BENCHMARKS, EXAMPLES, lower

SCHEMES = {"zfdr": "zfdr", "deform": "deform", "none": "normal-reshape"}


@cache
def compiled(name: str, zero_free: str) -> Graph:
    return lower(str(EXAMPLES / f"{name}.lergan"), Options(zero_free=zero_free), emit="analysis",
                         stop_after=SCHEMES[zero_free])


def _macs(reshape: dict, op: _Conv, g: Graph) -> int:
    """MACs of a reshaped form, recomputed from its IR attributes alone."""
    is_wgrad = op.OP == "wconv"
    per_position = g.op(op.inputs[0]).shape[0] // op.group if is_wgrad else 1
    if "kinds" in reshape:
        return sum(math.prod(k["matrix"]) * k["reuse"] * per_position for k in reshape["kinds"])
    return math.prod(reshape["matrix"]) * reshape["stats"]["rounds"] * per_position


@pytest.mark.parametrize("name", BENCHMARKS)
def test_zfdr_multiplies_exactly_the_useful_products(name: str) -> None:
    g = compiled(name, "zfdr")
    convs = [op for op in g.ops() if isinstance(op, _Conv)]
    assert convs
    for op in convs:
        counts, reshape = op.need(ZeroInsertionFigures).to_value(), op.need(Reshape).to_value()
        expected = counts["macs_useful"] if reshape["scheme"] == "zfdr" else counts["macs_zero_inserted"]
        assert _macs(reshape, op, g) == expected, (op.name, op.phase)
    assert any(op.need(Reshape).to_value()["scheme"] == "zfdr" for op in convs)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_normal_reshape_multiplies_every_inserted_zero(name: str) -> None:
    g = compiled(name, "none")
    for op in (op for op in g.ops() if isinstance(op, _Conv)):
        assert op.need(Reshape).to_value()["scheme"] == "normal"
        macs = op.need(ZeroInsertionFigures).macs_zero_inserted
        assert _macs(op.need(Reshape).to_value(), op, g) == macs, op.name


@pytest.mark.parametrize("name", BENCHMARKS)
def test_deform_lies_between_useful_and_zero_inserted(name: str) -> None:
    g = compiled(name, "deform")
    for op in (op for op in g.ops() if isinstance(op, _Conv)):
        counts = op.need(ZeroInsertionFigures).to_value()
        macs = _macs(op.need(Reshape).to_value(), op, g)
        assert counts["macs_useful"] <= macs <= counts["macs_zero_inserted"], op.name


def _symmetric_tconvs() -> list[tuple[str, TConv, int]]:
    found = []
    for name in BENCHMARKS:
        g = compiled(name, "zfdr")
        for op in g.ops():
            if isinstance(op, TConv) and op.phase == "G_fwd":
                n = op.rank
                sizes = set(g.op(op.inputs[0]).shape[1:])
                square = len(set(op.kernel)) == len(set(op.stride)) == len(set(op.pads)) == len(sizes) == 1
                if square and op.pads[:n] == op.pads[n:] and op.dilation == (1,) * n and op.group == 1:
                    found.append((name, op, sizes.pop()))
    return found


def test_paper_closed_forms_match_every_symmetric_benchmark_tconv() -> None:
    layers = _symmetric_tconvs()
    assert len(layers) >= 25  # every benchmark's generator T-CONVs except ArtGAN's asymmetric K4S1
    for name, op, i in layers:
        k, s, pad, out_pad = op.kernel[0], op.stride[0], op.pads[0], op.output_padding[0]
        summary = op.need(ZfdrSummary).to_value()
        cf = tconv_closed_form(i, k, s, pad, out_pad, rank=op.rank)
        if i >= -(-k // s):
            assert (summary["corner"], summary["edge"], summary["inside"]) == (cf.corner, cf.edge, cf.inside), (
                name, op.layer)


def test_dcgan_analysis_golden_numbers() -> None:
    g = compiled("dcgan", "zfdr")
    g2 = {a.key: a.to_value() for a in g.op("G2").attached.values()}
    assert g2["zero_insertion"]["zero_inserted_inputs"] == 147456
    assert g2["zero_insertion"]["useful_inputs"] == 16384
    assert g2["zero_insertion"]["macs_zero_inserted"] == 1638400 * 512
    assert g2["zero_insertion"]["macs_useful"] == 295936 * 512
    assert round(g2["zero_insertion"]["efficiency"], 4) == 0.1806
    assert g2["zfdr_summary"] == {"kinds": 25, "corner": 9, "edge": 12, "inside": 4, "max_reuse": 9, "rounds": 9,
                                  "rounds_without": 64}
    tconvs = [op.need(ZeroInsertionFigures).to_value() for op in g.ops() if op.OP == "tconv" and op.phase == "G_fwd"]
    ratio = sum(c["zero_inserted_inputs"] for c in tconvs) / sum(c["useful_inputs"] for c in tconvs)
    assert round(ratio, 2) == 5.19
    d1 = {a.key: a.to_value() for a in g.op("D1.wgrad").attached.values()}
    assert d1["zfdr_summary"]["kinds"] == 9
    assert (d1["zfdr_summary"]["corner"], d1["zfdr_summary"]["edge"], d1["zfdr_summary"]["inside"]) == (4, 4, 1)
    assert [k["reuse"] for k in d1["reshape"]["kinds"] if k["class"] == "Inside"] == [4]

"""Replicas share a kind's result positions: every position computed once, with the window it had,
and more copies never take more MMV rounds (``split_rect``; the example generator end to end)."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx.reference import ReferenceEvaluator

from lergan_cc.fsm.copies import Rect, replica_rect, replica_shapes, split_rect
from lergan_cc.fsm.values import Prog, Win

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "onnx"


def positions(rect: Rect) -> list[tuple[tuple[int, int], ...]]:
    """Every (result index, first operand index) pair per axis of a loop nest."""
    per_axis = []
    for r, w in zip(rect.ranges, rect.wins, strict=True):
        first = w.seq.start if isinstance(w.seq, Prog) else w.seq[0]
        per_axis.append([(r.start + r.step * j, w.a * j + first) for j in range(r.count)])
    return list(itertools.product(*per_axis))


@st.composite
def rects(draw: st.DrawFn) -> Rect:
    rank = draw(st.integers(1, 3))
    ranges = tuple(Prog(draw(st.integers(0, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 9))) for _ in range(rank))
    wins = tuple(Win(draw(st.integers(-2, 3)), Prog(draw(st.integers(0, 6)), 1, draw(st.integers(1, 4))))
                 for _ in range(rank))
    return Rect(ranges, wins)


@given(rects(), st.integers(1, 800))
def test_split_is_a_partition_with_the_original_windows(rect: Rect, parts: int) -> None:
    pieces = split_rect(rect, parts)
    assert len(pieces) <= parts
    whole = positions(rect)
    assert sorted(p for piece in pieces for p in positions(piece)) == sorted(whole)
    biggest = max(len(positions(p)) for p in pieces)
    if parts >= len(whole):  # enough copies for every position: one round
        assert biggest == 1
    if parts <= rect.ranges[0].count:  # fewer copies than first-axis positions: balanced slices
        assert biggest == math.ceil(rect.ranges[0].count / parts) * len(whole) // rect.ranges[0].count


def _rounds(tmp: Path, replica: str) -> dict[str, int]:
    prog, report = tmp / f"g_{replica}.fsm", tmp / f"g_{replica}.json"
    subprocess.run(["lerganc", str(EXAMPLES / "dcgan_g.onnx"), "--mode", "infer", "--batch", "2",
                    "--replica", replica, "-o", str(prog)], check=True)
    subprocess.run(["lergan-sim", str(prog), "--timing-only", "--report", str(report)], check=True,
                   capture_output=True)
    layers = json.loads(report.read_text())["layers"]
    return {la["layer"]: la["mmv_rounds"] for la in layers if la["mmv_rounds"]}


@given(rects(), st.integers(1, 800), st.data())
def test_one_share_alone_is_the_split_ones(rect: Rect, parts: int, data: st.DataObject) -> None:
    """``replica_shapes`` and ``replica_rect`` (the fast timing model's: no list of every share) give what
    ``split_rect`` gives."""
    shares = split_rect(rect, parts)
    assert replica_shapes(tuple(p.count for p in rect.ranges), parts) == [
        tuple(p.count for p in share.ranges) for share in shares]
    i = data.draw(st.integers(0, len(shares) - 1))
    assert replica_rect(rect, parts, i) == shares[i]
    with pytest.raises(IndexError):
        replica_rect(rect, parts, len(shares))


def test_more_replicas_never_more_rounds(tmp_path: Path) -> None:
    rounds = {r: _rounds(tmp_path, r) for r in ("none", "low", "middle", "high")}
    for layer in rounds["none"]:
        seq = [rounds[r][layer] for r in ("none", "low", "middle", "high")]
        assert seq == sorted(seq, reverse=True), (layer, seq)
    # tconv2's Inside kind covers 7 x 7 positions: 49 copies at high compute it in one round
    assert rounds["none"]["tconv2"] == 49 and rounds["high"]["tconv2"] == 1


@pytest.mark.parametrize("zero_free", ["zfdr", "deform"])
def test_high_replica_generator_matches_onnx_reference(tmp_path: Path, zero_free: str) -> None:
    model = onnx.load(EXAMPLES / "dcgan_g.onnx")
    x = np.random.default_rng(1).standard_normal((2, 16)).astype(np.float32)
    np.savez(tmp_path / "in.npz", noise=x)
    prog = tmp_path / "g.fsm"
    subprocess.run(["lerganc", str(EXAMPLES / "dcgan_g.onnx"), "--mode", "infer", "--batch", "2", "--replica",
                    "high", "--zero-free", zero_free, "-o", str(prog)], check=True)
    subprocess.run(["lergan-sim", str(prog), "--inputs", str(tmp_path / "in.npz"), "--outputs",
                    str(tmp_path / "out.npz")], check=True, capture_output=True)
    ref = ReferenceEvaluator(model).run(None, {"noise": x})[0]
    out = np.load(tmp_path / "out.npz")[model.graph.output[0].name]
    assert float(np.abs(out - ref).max() / np.abs(ref).max()) < 1e-4

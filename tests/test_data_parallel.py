"""data-parallel: how many sample-parallel copies each phase gets, and where the placers put them."""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import DataParallel, Placement, PlacementSummary
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.parser import parse_ir
from lergan_cc.ir.printer import print_graph
from lergan_cc.mapping.matrices import bank_budget, matrices, matrix_ops, part_size, sarray_bytes, stored_bytes
from lergan_cc.options import Options
from lergan_cc.shards import overlaps, shard_ranges
from lergan_cc.targets.hw import load_hw
from tests.conftest import run_pass
from tests.test_replicate import reshaped

HW = load_hw(None)


def placed(model: str, copies: int | str, target: str = "lergan-3d", degree: str = "low", batch: int = 64) -> Graph:
    options = Options(replica=degree, target=target, data_parallel=copies, batch=batch)
    g = run_pass("replicate", copy.deepcopy(reshaped(model)), options)
    g = run_pass("data-parallel", g, options)
    return run_pass({"lergan-3d": "place-3d", "htree-2d": "place-htree"}[target], g, options)


@given(st.integers(1, 300), st.data())
def test_shards_cover_the_batch_in_order(batch: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, batch))
    shards = shard_ranges(batch, k)
    assert [s for s, _ in shards] == list(itertools.accumulate([0] + [n for _, n in shards[:-1]]))
    assert sum(n for _, n in shards) == batch and max(n for _, n in shards) - min(n for _, n in shards) <= 1
    other = shard_ranges(batch, data.draw(st.integers(1, batch)))
    pieces = overlaps(shards, other)
    assert sum(n for *_, n in pieces) == batch  # every sample moves exactly once between two shardings
    assert all(shards[i][0] <= lo and lo + n <= shards[i][0] + shards[i][1] for i, _, lo, n in pieces)


def test_auto_fills_each_phases_own_bank() -> None:
    """As many copies as the crossbars of the phase's bank hold, and as its SArray holds their gradient sums
    beside the batch's activations."""
    g = placed("dcgan", "auto")
    dp = g.need(DataParallel)
    for phase, k in dp.copies.items():
        mine = [op for op in matrix_ops(g) if op.phase == phase]
        size = sum(part_size(HW, op) for op in mine)  # one copy of the phase
        acts, grads = stored_bytes(HW, g, phase, 64)
        storage = (sarray_bytes(HW) - acts) // grads if grads else 64
        assert k == min(64, bank_budget(HW, mine) // size, storage), phase
        assert acts + k * grads <= sarray_bytes(HW)
    assert dp.copies["G_fwd"] == 6 and dp.copies["D_fwd"] == 30  # crossbars bound
    assert dp.copies["G_wgrad"] == 27 and dp.copies["D_wgrad"] == 30  # SArray bound: G's 38 MB of gradients


@pytest.mark.parametrize("target", ["lergan-3d", "htree-2d"])
@pytest.mark.parametrize("model", ["dcgan", "cgan", "discogan_4pairs"])
def test_every_copy_of_every_shard_is_placed_once(model: str, target: str) -> None:
    g = placed(model, "auto", target)
    dp = g.need(DataParallel)
    used: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for op in matrix_ops(g):
        covered: dict[tuple[int, int, int], int] = defaultdict(int)
        for c in op.need(Placement).copies:
            used[c.tile].append((c.crossbar, c.crossbar + c.crossbars))
            covered[(c.kind, c.replica, c.shard)] += c.row_slices
        for m in matrices(op):
            for shard in range(dp.of(op.phase)):
                assert covered[(m.kind, 0, shard)] == HW.matrix_slices(m.shape)[0], (op.name, m.kind, shard)
    for tile, ranges in used.items():
        ranges.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges)), f"{tile}: a crossbar holds two matrices"
    assert g.need(PlacementSummary).crossbars_used == sum(b - a for r in used.values() for a, b in r)


def test_copies_are_vertically_aligned_windows() -> None:
    """place-3d: copy s of a layer starts on the same tile in the banks of its phases (when they all have it)."""
    g = placed("dcgan", 4)
    by_layer: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for op in matrix_ops(g):
        if op.phase.startswith("G"):
            for c in op.need(Placement).copies:
                by_layer[(op.layer, c.shard)].setdefault(op.phase, c.tile.split(".")[1])
    aligned = [len(set(tiles.values())) == 1 for tiles in by_layer.values() if len(tiles) > 1]
    assert aligned and sum(aligned) >= 0.8 * len(aligned)


def test_explicit_copies_spill_into_the_spare_banks() -> None:
    g = placed("dcgan", 10)
    dp = g.need(DataParallel)
    assert dp.spill == {"G_fwd": ("B7",), "D_err": ("B8",)}
    summary = g.need(PlacementSummary)
    assert summary.phases["G_fwd"] == ("B1", "B7") and summary.phases["D_err"] == ("B6", "B8")
    banks = {c.tile.split(".")[0] for op in matrix_ops(g) if op.phase == "G_fwd" for c in op.need(Placement).copies}
    assert banks == {"B1", "B7"}


def test_too_many_copies_is_one_line() -> None:
    with pytest.raises(LerganError, match=r"capacity exceeded: phase G_fwd asks for 40 copies .* 18 fit"):
        placed("dcgan", 40)
    with pytest.raises(LerganError, match=r"data_parallel 9: expected auto or an integer from 1 to the batch \(8\)"):
        placed("dcgan", 9, batch=8)


def test_the_attribute_round_trips_and_is_verified() -> None:
    g = placed("cgan", 3, "htree-2d")
    text = print_graph(g)
    assert "data_parallel = {batch = 64, copies = {" in text and "shard = 2" in text
    assert print_graph(parse_ir(text)) == text
    bad = text.replace("data_parallel = {batch = 64,", "data_parallel = {batch = 2,", 1)
    with pytest.raises(LerganError, match="3 copies of phase D_err for a batch of 2"):
        from lergan_cc.ir.verifier import verify

        verify(parse_ir(bad))

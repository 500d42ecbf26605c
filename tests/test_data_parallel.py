"""data-parallel: how many sample-parallel copies each phase gets, and where the placers put them."""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc import api
from lergan_cc.errors import LerganError
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.printer import print_program
from lergan_cc.ir.attrs import DataParallel, Placement, PlacementSummary
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.parser import parse_ir
from lergan_cc.ir.printer import print_graph
from lergan_cc.mapping.matrices import bank_budget, matrices, matrix_ops, part_size, sarray_bytes, stored_bytes
from lergan_cc.options import Options
from lergan_cc.shards import overlaps, shard_ranges
from lergan_cc.sim.reduce import in_network
from lergan_cc.sim.timing import Timing
from lergan_cc.targets.hw import load_hw
from tests.conftest import EXAMPLES, run_pass
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


# ---- the program and its timing ------------------------------------------------------------------------
def timed(model: str, **options: object) -> dict:
    program = api.compile(EXAMPLES / f"{model}.lergan", warn=lambda _: None, **options)  # type: ignore[arg-type]
    report = api.simulate(program, timing_only=True).report
    assert report is not None
    return report


def test_more_copies_never_take_longer() -> None:
    times = [timed("cgan", data_parallel=k)["iteration_ns"] for k in (1, 2, 3, 5, 8)]
    assert times == sorted(times, reverse=True) and times[-1] < times[0] / 5


def test_copies_overlaps_and_the_3d_connection_on_dcgan() -> None:
    """auto is >= 10x faster than one copy at low; the paper's overlaps help; with copies lergan-3d beats the
    H-tree at high (Fig. 17's direction); the update's weights reach every copy (multicast beats per-copy)."""
    one = timed("dcgan")["iteration_ns"]
    auto = timed("dcgan", data_parallel="auto")["iteration_ns"]
    paper = timed("dcgan", data_parallel="auto", overlap="paper")["iteration_ns"]
    assert one / auto >= 10 and paper < auto
    high = {t: timed("dcgan", data_parallel="auto", replica="high", target=t)["iteration_ns"]
            for t in ("lergan-3d", "htree-2d")}
    assert high["lergan-3d"] < high["htree-2d"]
    per_copy = timed("dcgan", data_parallel=4, dp_programming="per-copy")
    multicast = timed("dcgan", data_parallel=4)
    assert multicast["iteration_ns"] < per_copy["iteration_ns"]
    assert multicast["traffic"]["bus"] < per_copy["traffic"]["bus"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=2, max_size=12, unique=True))
def test_the_3d_wires_make_the_reduce_tree_shorter(tiles: list[int]) -> None:
    """The same partials' tiles, reduced in network: with lergan-3d's horizontal wires the tree's wires are
    never longer (energy: pJ/bit goes with wire length) than the H-tree's, and shorter for some sets. (Its
    hop count may be higher: two short horizontal segments can replace one long H-tree one.)"""
    out = {}
    for target in ("lergan-3d", "htree-2d"):
        places = TOPOLOGIES[target].places
        cost = in_network(places.ctx, places, [f"B2.T{t}" for t in tiles], 4096, 2048)
        wires = sum(v for k, v in cost.energy.items() if k in ("htree", "horizontal"))
        out[target] = (wires, cost.ns)
    assert out["lergan-3d"][0] <= out["htree-2d"][0] * (1 + 1e-9)


def _timing(target: str) -> Timing:
    program = api.compile(EXAMPLES / "cgan.lergan", data_parallel=2, target=target, warn=lambda _: None)
    timing = Timing(program.fsm)
    timing.places.enter({b: "Cmode" for b in timing.topo.banks})
    return timing


TOPOLOGIES = {t: _timing(t) for t in ("lergan-3d", "htree-2d")}


def test_some_reduce_trees_are_shorter_in_3d() -> None:
    tiles = ["B2.T1", "B2.T2", "B2.T5", "B2.T6"]
    wires = {t: sum(v for k, v in in_network(tm.ctx, tm.places, tiles, 4096, 2048).energy.items()
                    if k in ("htree", "horizontal")) for t, tm in TOPOLOGIES.items()}
    assert wires["lergan-3d"] < wires["htree-2d"]


def test_a_sharded_program_round_trips_and_the_assembler_checks_it() -> None:
    program = api.compile(EXAMPLES / "cgan.lergan", data_parallel=3, replica="middle", warn=lambda _: None)
    text = program.text
    assert print_program(parse_fsm(text, "p.fsm")) == text
    assert " shards=3 home=$" in text and " partials=3 home=$" in text and "reduce dst=%grad/" in text
    assert " replicas=" in text and " copies=" in text and "fanout=multicast" in text
    nothing = text.replace(" shards=3 home=$", " shards=3 home=$nothing x=$", 1)
    for bad, needle in ((text.replace(" copies=3 ", " copies=4 ", 1), "placed copies for copies=4"),
                        (text.replace(" shards=3 home=$", " shards=2 home=$", 1), r"its home \$G1.k0 has 3 shards"),
                        (nothing, r"home \$nothing is undeclared")):
        with pytest.raises(LerganError, match=needle):
            parse_fsm(bad, "p.fsm")


def test_auto_warns_when_the_activations_alone_overflow_the_sarray(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Activations beyond a bank's SArray are what --data-parallel 1 times too (their spill is not modelled):
    auto says so in a warning and lets the crossbars alone bound the copies, instead of refusing a model the
    serial machine accepts."""
    hw_file = tmp_path / "small-sarray.toml"
    hw_file.write_text("[memory]\ncarray_mib = 125\nsarray_mib = 1\n")
    options = Options(replica="low", data_parallel="auto", hw=str(hw_file))
    from lergan_cc.context import CompileContext
    from lergan_cc.pipeline import Instruments, resolve, run_passes

    warnings: list[str] = []
    ctx = CompileContext.create(options, warn=warnings.append)
    g = run_passes(resolve(["replicate", "data-parallel"], options), copy.deepcopy(reshaped("dcgan")), ctx,
                   Instruments(log=lambda _: None))
    overflowing = [p for p in g.need(DataParallel).copies
                   if stored_bytes(ctx.hw, g, p, 64)[0] > sarray_bytes(ctx.hw)]
    assert overflowing and all(any(f"phase {p} stores" in w for w in warnings) for p in overflowing)
    for phase in overflowing:
        mine = [op for op in matrix_ops(g) if op.phase == phase]
        size = sum(part_size(ctx.hw, op) for op in mine)
        assert g.need(DataParallel).copies[phase] == min(64, bank_budget(ctx.hw, mine) // size)

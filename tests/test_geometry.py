"""The topology: H-tree banks, 3DCUs, bypass links, bus, routes per target (paper §IV-B, Fig. 12-13)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lergan_cc.ir.ops import PHASES
from lergan_cc.targets.geometry import (
    LINK_KINDS,
    PHASE_BANK,
    SWITCH_STATES,
    build_topology,
    hop_counts,
    route,
    vertical_peer,
)
from lergan_cc.targets.hw import load_hw

HW = load_hw(None)
T3D = build_topology(HW, "lergan-3d")
T2D = build_topology(HW, "htree-2d")
UNIT_BANKS = [f"B{b}" for b in range(1, 7)]
tiles = st.integers(0, 15)
all_banks = st.integers(1, 8)


def test_sixteen_tiles_per_bank_under_a_four_level_tree() -> None:
    for bank in T3D.banks:
        assert len(T3D.tiles(bank)) == 16
    levels = {n.level for n in T3D.nodes.values() if n.bank == 1}
    assert levels == {0, 1, 2, 3, 4}
    per_level = [sum(n.bank == 1 and n.level == d for n in T3D.nodes.values()) for d in range(5)]
    assert per_level == [1, 2, 4, 8, 16]
    assert T3D.nodes["B2.L1.n0"].kind == "merging" and T3D.nodes["B2.L3.n7"].kind == "multiplexing"
    assert T3D.nodes["B2.T15"].kind == "tile"


def test_every_tile_is_four_htree_hops_from_its_bank_root() -> None:
    for tile in T2D.tiles("B1"):
        r = T2D.route(tile, "B1.L0.n0")
        assert hop_counts(r) == {**dict.fromkeys(LINK_KINDS, 0), "htree": 4}
        assert sum(link.cost.latency_ns for link in r) == pytest.approx(HW.htree.latency_ns)


def test_horizontal_wires_only_between_nodes_with_different_parents() -> None:
    horizontal = T3D.links("horizontal")
    assert horizontal
    for link in horizontal:
        a, b = T3D.nodes[link.src], T3D.nodes[link.dst]
        assert a.bank == b.bank and a.level == b.level < HW.htree_depth
        assert abs(a.index - b.index) == 1 and a.index // 2 != b.index // 2
    # Fig. 12(b): the middle two nodes of the four-node level; none between the root's two children.
    ids = {link.id for link in horizontal}
    assert "horizontal:B1.L2.n1-B1.L2.n2" in ids and not any(".L1." in i for i in ids)
    per_bank = {b: sum(T3D.nodes[lk.src].bank == b for lk in horizontal) for b in range(1, 9)}
    assert per_bank == {**dict.fromkeys(range(1, 7), 4), 7: 0, 8: 0}  # 1 at L2 + 3 at L3, only in 3DCUs


def test_vertical_wires_join_corresponding_nodes_of_adjacent_banks() -> None:
    for link in T3D.links("vertical"):
        a, b = T3D.nodes[link.src], T3D.nodes[link.dst]
        assert (a.level, a.index) == (b.level, b.index) and abs(a.bank - b.bank) == 1
        assert T3D.unit_of(f"B{a.bank}") == T3D.unit_of(f"B{b.bank}") is not None
    assert len(T3D.links("vertical")) == 2 * 2 * 31  # two units x two bank gaps x 31 nodes


@given(tiles, st.sampled_from([(1, 2), (2, 3), (4, 5), (5, 6)]))
def test_a_vertical_neighbour_is_one_vertical_hop_away(t: int, banks: tuple[int, int]) -> None:
    src = f"B{banks[0]}.T{t}"
    dst = vertical_peer(src, f"B{banks[1]}", T3D)
    assert dst == f"B{banks[1]}.T{t}"
    assert [link.kind for link in T3D.route(src, dst)] == ["vertical"]


def test_vertical_peer_across_a_unit_and_outside_one() -> None:
    assert vertical_peer("B1.T5", "B3") == "B3.T5"
    assert T3D.vertical_peer("B4.L2.n1", "B6") == "B6.L2.n1"
    with pytest.raises(ValueError, match="same 3DCU"):
        T3D.vertical_peer("B1.T5", "B4")
    with pytest.raises(ValueError, match="same 3DCU"):
        T3D.vertical_peer("B7.T0", "B8")


def test_units_and_switches() -> None:
    assert T3D.units == ((1, 2, 3), (4, 5, 6)) and T2D.units == ()
    assert T3D.nodes["B1.L2.n1"].switches == (frozenset({"parent", "horizontal", "down"}),)
    assert T3D.nodes["B3.L2.n0"].switches == (frozenset({"parent", "upper"}),)
    assert len(T3D.nodes["B2.T3"].switches) == 2  # only nodes in the middle bank have two switches
    for node in T3D.nodes.values():
        assert len(node.switches) == (2 if node.bank in (2, 5) else 1 if 1 <= node.bank <= 6 else 0)
        assert all(s <= set(SWITCH_STATES) and "parent" in s for s in node.switches)
        assert node.adder == (1 <= node.bank <= 6 and node.kind in ("merging", "multiplexing"))
    assert all(not n.switches and not n.adder for n in T2D.nodes.values())


def test_b1_to_b4_uses_bypass_on_3d_and_bus_on_2d() -> None:
    r3, r2 = route("B1.T0", "B4.T0", T3D), route("B1.T0", "B4.T0", "htree-2d")
    assert hop_counts(r3)["bypass"] == 1 and hop_counts(r3)["bus"] == 0
    assert hop_counts(r2)["bypass"] == 0 and hop_counts(r2)["bus"] == 2
    assert hop_counts(route("B3.T2", "B6.T9", T3D))["bypass"] == 1
    assert {(lk.src, lk.dst) for lk in T3D.links("bypass")} == {("B1.L0.n0", "B4.L0.n0"), ("B3.L0.n0", "B6.L0.n0")}


def test_every_bank_and_the_host_are_on_the_bus() -> None:
    on_bus = {lk.src for lk in T3D.links("bus")} | {lk.dst for lk in T3D.links("bus")}
    assert on_bus == {"bus", "host"} | {f"B{b}.L0.n0" for b in range(1, 9)}


def test_horizontal_wire_shortens_a_cross_subtree_route() -> None:
    assert [lk.kind for lk in T3D.route("B1.T3", "B1.T4")] == ["htree", "horizontal", "htree"]
    assert hop_counts(T2D.route("B1.T3", "B1.T4"))["htree"] == 6


def test_route_is_oriented_and_chained() -> None:
    r = T3D.route("B1.T0", "B6.T15")
    assert r[0].src == "B1.T0" and r[-1].dst == "B6.T15"
    assert all(a.dst == b.src for a, b in pairwise(r))


def test_smode_uses_only_the_htree_and_the_bus() -> None:
    assert {lk.kind for lk in T3D.route("B1.T0", "B4.T0", mode="Smode")} == {"htree", "bus"}


def test_transfer_cost_of_one_sibling_word_matches_t_t_wires() -> None:
    r = T3D.route("B1.T0", "B1.T1")
    ns, pj = T3D.transfer(r, HW.htree_width(HW.htree_depth) // 8)
    assert ns == pytest.approx(HW.t_t_ns - HW.tile.read_ns - HW.tile.write_ns)
    assert pj == pytest.approx(128 * 2 * HW.htree_hop(4).pj_per_bit)


def test_phase_placement_of_fig_13() -> None:
    assert PHASE_BANK == {"G_fwd": "B1", "G_wgrad": "B2", "G_err": "B3", "D_fwd": "B4", "D_wgrad": "B5",
                          "D_err": "B6", "fwd": "B1"}
    assert set(PHASE_BANK) == set(PHASES)
    for phase in ("G_fwd", "D_fwd"):
        assert T3D.unit_of(PHASE_BANK[phase])[0] == int(PHASE_BANK[phase][1:])  # forward on a unit's top


@given(all_banks, tiles, all_banks, tiles)
def test_htree_2d_routes_never_use_3d_wires(b1: int, t1: int, b2: int, t2: int) -> None:
    counts = hop_counts(T2D.route(f"B{b1}.T{t1}", f"B{b2}.T{t2}"))
    assert counts["horizontal"] == counts["vertical"] == counts["bypass"] == 0
    assert counts["bus"] == (0 if b1 == b2 else 2)


@given(all_banks, tiles, all_banks, tiles)
def test_3d_routes_are_never_slower_than_2d(b1: int, t1: int, b2: int, t2: int) -> None:
    src, dst = f"B{b1}.T{t1}", f"B{b2}.T{t2}"
    r3, r2 = T3D.route(src, dst), T2D.route(src, dst)
    assert sum(lk.cost.latency_ns for lk in r3) <= sum(lk.cost.latency_ns for lk in r2) + 1e-9
    back = route(dst, src, T3D)
    assert sum(lk.cost.latency_ns for lk in back) == pytest.approx(sum(lk.cost.latency_ns for lk in r3))
    assert (back == []) == (src == dst)

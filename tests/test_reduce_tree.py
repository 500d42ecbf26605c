"""The Steiner trees of in-network reductions (``lergan_cc.sim.reduce._steiner``), over links that connect
every node (the graph itself is searched) and over links that do not (the terminals' component): each
is a tree of the allowed links that spans the terminals, for two terminals exactly the shortest path,
and ``None`` when the links do not connect the terminals."""

from __future__ import annotations

import math

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.sim.reduce import _steiner, _weighted
from lergan_cc.targets.geometry import TARGET_LINKS, build_topology
from lergan_cc.targets.hw import load_hw

TOPO = build_topology(load_hw(None), "lergan-3d")
TILES = [t for bank in TOPO.banks for t in TOPO.tiles(bank)]
ALL = frozenset(TARGET_LINKS["lergan-3d"])
HTREE = frozenset({"htree"})  # each bank's H-tree alone: one component per bank


def _check_tree(kinds: frozenset[str], terminals: list[str]) -> None:
    """The tree over ``kinds`` spans ``terminals`` with links of those kinds; for two, the shortest path."""
    tree = _steiner(TOPO, kinds, terminals)
    assert tree is not None and nx.is_tree(tree) and all(t in tree for t in terminals)
    assert all(TOPO.graph[a][b]["link"].kind in kinds for a, b in tree.edges)
    if len(terminals) == 2:
        shortest = nx.shortest_path_length(_weighted(TOPO, kinds), *terminals, weight="weight")
        assert math.isclose(tree.size(weight="weight"), shortest, rel_tol=1e-12)  # the same links, another order


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(TILES), min_size=2, max_size=6, unique=True))
def test_a_tree_over_connected_links_spans_the_terminals(terminals: list[str]) -> None:
    assert nx.is_connected(_weighted(TOPO, ALL))
    _check_tree(ALL, terminals)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TOPO.banks), st.data())
def test_a_tree_over_one_component_of_the_links(bank: str, data: st.DataObject) -> None:
    assert not nx.is_connected(_weighted(TOPO, HTREE))
    terminals = data.draw(st.lists(st.sampled_from(TOPO.tiles(bank)), min_size=2, max_size=5, unique=True))
    _check_tree(HTREE, terminals)
    elsewhere = next(t for t in TILES if not t.startswith(f"{bank}."))
    assert _steiner(TOPO, HTREE, [*terminals, elsewhere]) is None

"""The accelerator's topology as data: tiles under H-trees, 3DCUs, bypass links, the bus.

Paper §IV-B, Fig. 12-13. A bank's tiles are the leaves of a binary H-tree whose routing nodes
are ``B<b>.L<level>.n<index>`` (L0 is the root, the bank's port) and whose tiles are
``B<b>.T<index>``. lergan-3d adds, inside each 3DCU of three stacked banks, horizontal wires
between adjacent same-level nodes whose parents differ and vertical wires between
corresponding nodes (tiles included) of neighbouring banks, switches in every node of a 3DCU
and bypassable adders in the routing nodes; two 3DCUs form a pair joined by direct B1-B4 and
B3-B6 links. Every bank's root and the host sit on the bus. htree-2d keeps only H-tree and bus
links. Routes are shortest-latency paths over this link graph (networkx).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import networkx as nx

from lergan_cc.targets.hw import Hardware, LinkCost, load_hw

LINK_KINDS = ("htree", "horizontal", "vertical", "bypass", "bus")
TARGET_LINKS: dict[str, frozenset[str]] = {
    "lergan-3d": frozenset(LINK_KINDS),
    "htree-2d": frozenset({"htree", "bus"}),
}
# Smode: switches hold the H-tree pattern, the bank is plain memory; Cmode: reconfigured per dataflow.
MODE_LINKS: dict[str, frozenset[str]] = {"Smode": frozenset({"htree", "bus"}), "Cmode": frozenset(LINK_KINDS)}
SWITCH_STATES = ("parent", "horizontal", "upper", "down")
BANKS_PER_3DCU = 3
UNITS_PER_PAIR = 2
# Fig. 13: forward on the top bank, weight gradients in the middle, error transfer at the bottom.
PHASE_BANK: dict[str, str] = {
    "G_fwd": "B1", "G_wgrad": "B2", "G_err": "B3",
    "D_fwd": "B4", "D_wgrad": "B5", "D_err": "B6",
    "fwd": "B1",  # a single network (inference) runs where the generator's forward pass would
}
# Bypass links of a 3DCU pair, by position in the pair: B1-B4 (tops), B3-B6 (bottoms).
BYPASS_POSITIONS = ((0, 3), (2, 5))
BUS, HOST = "bus", "host"


def bank_name(bank: int) -> str:
    return f"B{bank}"


def node_id(bank: int, level: int, index: int, depth: int) -> str:
    """``B2.L1.n0`` for a routing node, ``B2.T5`` for a tile (level == depth)."""
    return f"B{bank}.T{index}" if level == depth else f"B{bank}.L{level}.n{index}"


@dataclass(frozen=True)
class Node:
    """A routing node, a tile, the bus or the host; ``switches`` lists each switch's state set."""

    id: str
    kind: str  # merging | multiplexing | tile | bus | host
    bank: int = 0
    level: int = 0
    index: int = 0
    switches: tuple[frozenset[str], ...] = ()
    adder: bool = False


@dataclass(frozen=True)
class Link:
    """One wire between two nodes, oriented src -> dst when it is part of a route."""

    kind: str
    src: str
    dst: str
    level: int
    cost: LinkCost

    @property
    def id(self) -> str:
        a, b = sorted((self.src, self.dst))
        return f"{self.kind}:{a}-{b}"

    def reversed(self) -> Link:
        return replace(self, src=self.dst, dst=self.src)


@dataclass(frozen=True, eq=False)
class Topology:
    target: str
    hw: Hardware
    nodes: dict[str, Node]
    units: tuple[tuple[int, ...], ...]  # the 3DCUs, as bank numbers top to bottom
    graph: nx.Graph = field(repr=False)

    @property
    def banks(self) -> list[str]:
        return [bank_name(b) for b in range(1, self.hw.banks + 1)]

    def tiles(self, bank: str) -> list[str]:
        b = _bank_number(bank)
        return [node_id(b, self.hw.htree_depth, i, self.hw.htree_depth) for i in range(self.hw.tiles_per_bank)]

    def links(self, kind: str | None = None) -> list[Link]:
        return [d["link"] for _, _, d in self.graph.edges(data=True) if kind in (None, d["link"].kind)]

    def unit_of(self, bank: str) -> tuple[int, ...] | None:
        b = _bank_number(bank)
        return next((u for u in self.units if b in u), None)

    def vertical_peer(self, node: str, bank: str) -> str:
        """The node (a tile or routing node) at the same place of ``bank``, in the same 3DCU."""
        n, unit = self.nodes[node], self.unit_of(bank)
        if unit is None or n.bank not in unit:
            raise ValueError(f"{node} and {bank} are not in the same 3DCU")
        return node_id(_bank_number(bank), n.level, n.index, self.hw.htree_depth)

    def route(self, src: str, dst: str, mode: str = "Cmode") -> list[Link]:
        """Shortest-latency path from ``src`` to ``dst`` over the links the target and mode have."""
        allowed = TARGET_LINKS[self.target] & MODE_LINKS[mode]

        def latency(a: str, b: str, d: dict) -> float | None:  # None hides a link the mode does not have
            link = d["link"]
            return link.cost.latency_ns if link.kind in allowed else None

        path = nx.shortest_path(self.graph, src, dst, weight=latency)
        return [_oriented(self.graph[a][b]["link"], a) for a, b in pairwise(path)]

    def transfer(self, links: list[Link], nbytes: int) -> tuple[float, float]:
        """(ns, pJ) to move ``nbytes`` along a route: wire latencies plus serialisation on the narrowest link."""
        if not links:
            return 0.0, 0.0
        bits = 8 * nbytes
        narrowest = min(link.cost.width_bits for link in links)
        ns = sum(link.cost.latency_ns for link in links) + -(-bits // narrowest) * self.hw.io_cycle_ns
        return ns, bits * sum(link.cost.pj_per_bit for link in links)


def hop_counts(links: list[Link]) -> dict[str, int]:
    """Hops per wire kind, every kind present (0 when unused)."""
    counts = Counter(link.kind for link in links)
    return {kind: counts[kind] for kind in LINK_KINDS}


def route(src_tile: str, dst_tile: str, target: str | Topology, mode: str = "Cmode") -> list[Link]:
    """Route between two tiles on a target name (default hardware) or on a built topology."""
    topo = target if isinstance(target, Topology) else build_topology(load_hw(None), target)
    return topo.route(src_tile, dst_tile, mode)


def vertical_peer(tile: str, bank: str, topology: Topology | None = None) -> str:
    """The tile vertically corresponding to ``tile`` in ``bank`` (same 3DCU)."""
    return (topology or build_topology(load_hw(None), "lergan-3d")).vertical_peer(tile, bank)


@lru_cache(maxsize=8)
def build_topology(hw: Hardware, target: str = "lergan-3d") -> Topology:
    if target not in TARGET_LINKS:
        raise ValueError(f"unknown target {target!r}, expected one of {sorted(TARGET_LINKS)}")
    kinds, depth = TARGET_LINKS[target], hw.htree_depth
    pairs = hw.banks // (BANKS_PER_3DCU * UNITS_PER_PAIR)
    units = tuple(tuple(range(1 + BANKS_PER_3DCU * u, 1 + BANKS_PER_3DCU * (u + 1)))
                  for u in range(pairs * UNITS_PER_PAIR))
    position = {b: (u, unit.index(b)) for u, unit in enumerate(units) for b in unit}
    g = nx.Graph()
    nodes: dict[str, Node] = {}

    def add_link(kind: str, a: str, b: str, level: int, cost: LinkCost) -> None:
        if kind in kinds:
            g.add_edge(a, b, link=Link(kind, a, b, level, cost))

    for bank in range(1, hw.banks + 1):
        in_unit = "vertical" in kinds and bank in position
        for level in range(depth + 1):
            for index in range(1 << level):
                nid = node_id(bank, level, index, depth)
                horizontal = in_unit and "horizontal" in kinds and _has_horizontal(level, index, depth)
                switches = _switches(position[bank][1], horizontal) if in_unit else ()
                kind = "tile" if level == depth else hw.htree.node_kinds[level]
                nodes[nid] = Node(nid, kind, bank, level, index, switches, adder=in_unit and level < depth)
                g.add_node(nid)
                if level > 0:
                    add_link("htree", node_id(bank, level - 1, index // 2, depth), nid, level, hw.htree_hop(level))
                if horizontal and index % 2 == 0:
                    add_link("horizontal", node_id(bank, level, index - 1, depth), nid, level,
                             hw.horizontal_hop(level))
                if in_unit and position[bank][1] > 0:
                    add_link("vertical", node_id(bank - 1, level, index, depth), nid, level, hw.vertical_hop(level))
    nodes[BUS], nodes[HOST] = Node(BUS, "bus"), Node(HOST, "host")
    bus = hw.wire_hop(hw.bus)
    add_link("bus", HOST, BUS, 0, bus)
    for bank in range(1, hw.banks + 1):
        add_link("bus", node_id(bank, 0, 0, depth), BUS, 0, bus)
    for p in range(pairs):
        first = 1 + p * BANKS_PER_3DCU * UNITS_PER_PAIR
        for a, b in BYPASS_POSITIONS:
            add_link("bypass", node_id(first + a, 0, 0, depth), node_id(first + b, 0, 0, depth), 0,
                     hw.wire_hop(hw.bypass))
    return Topology(target, hw, nodes, units if "vertical" in kinds else (), g)


def _has_horizontal(level: int, index: int, depth: int) -> bool:
    """Routing node next to a same-level neighbour with another parent (odd i and i+1)."""
    if level >= depth:
        return False
    neighbour = index + 1 if index % 2 else index - 1
    return 0 <= neighbour < (1 << level) and neighbour // 2 != index // 2


def _switches(position: int, horizontal: bool) -> tuple[frozenset[str], ...]:
    """Top bank: one switch {parent, horizontal?, down}; bottom: {parent, horizontal?, upper};
    the middle bank: two switches, one reaching up and one down (Fig. 12(b))."""
    base = {"parent"} | ({"horizontal"} if horizontal else set())
    reach = {0: (("down",),), 2: (("upper",),), 1: (("upper",), ("down",))}[position]
    return tuple(frozenset(base | set(r)) for r in reach)


def _oriented(link: Link, start: str) -> Link:
    return link if link.src == start else link.reversed()


def _bank_number(bank: str) -> int:
    if not (bank.startswith("B") and bank[1:].isdigit()):
        raise ValueError(f"not a bank name: {bank!r}")
    return int(bank[1:])

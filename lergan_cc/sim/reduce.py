"""What sample-parallel copies must exchange: a gradient's partial sums (``reduce``), batch statistics.

``reduce mode=tree``: an in-network reduction over the interconnect's bypassable node adders. Copies
whose partials share a home tile accumulate into one sum there as their ``mmv``s add (the tile's
accumulator, as one copy's rounds do); every tile holding a sum streams it
towards partial 0's home over a Steiner tree of the links the banks' modes allow (networkx's
approximation, weighted by latency: on lergan-3d in Cmode it takes the horizontal and vertical wires
where they shorten the tree); where two streams meet, the node's adder adds them and passes the sum
on. Every link of the tree carries the gradient once, so the reduction costs one transfer's
serialisation on the tree's narrowest link, its depth in latency, and an adder's latency per level,
not ``log2 K`` transfers; its bytes x hops are the gradient's size times the tree's links.
``mode=home``: every partial travels to partial 0's home and is added there by the tile's
peripherals, one after another: the transfers converge on one tile's links.

Batch statistics over a sharded batch (``bn``/``bn_grad`` with ``sync=global``) reduce each copy's
per-channel sums (two values per channel) the same way up a tree and broadcast the result back down.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

import networkx as nx
from networkx.algorithms.approximation import steiner_tree

from lergan_cc.fsm.program import Instr
from lergan_cc.fsm.values import Ref
from lergan_cc.sim.costs import Context, Cost
from lergan_cc.sim.places import Places
from lergan_cc.sim.wires import link_resource, shortest, transfer
from lergan_cc.targets.geometry import MODE_LINKS, TARGET_LINKS, Link, Topology

TaskSpec = tuple[str, Cost, list[str], list[str]]  # (label, cost, names read, names written in part)


def reduce_tasks(ins: Instr, ctx: Context, places: Places) -> list[TaskSpec]:
    dst = ins.operands["dst"]
    assert isinstance(dst, Ref)
    k = ctx.layout.pieces(dst.name)
    if k == 1:
        return []
    piece = [ctx.layout.piece_name(dst.name, p) for p in range(k)]
    homes = [places.home_of(dst.name, p) for p in range(k)]
    nbytes, elements = ctx.nbytes(dst), ctx.elements(dst)
    if str(ins.operands["mode"]) == "home":
        return [(f"reduce {piece[j]}->{piece[0]}", _combine(ctx, places, homes[j], homes[0], nbytes, elements, False),
                 [piece[j], piece[0]], [piece[0]]) for j in range(1, k)]
    return [(f"reduce {dst.name} ({k} partials)", in_network(ctx, places, homes, nbytes, elements), piece,
             [piece[0]])]


def in_network(ctx: Context, places: Places, homes: list[str], nbytes: int, elements: int) -> Cost:
    """The in-network reduction of partials at ``homes`` into ``homes[0]`` (module docstring)."""
    hw = ctx.hw
    per_tile = Counter(homes)
    cost = Cost(0.0, {"alu": elements * (len(per_tile) - 1) * hw.interconnect.adder_pj_per_add})
    if len(per_tile) == 1:
        return cost
    links, depth = _tree(places, list(per_tile), homes[0])
    bits = 8 * nbytes
    stream = Cost(depth + -(-bits // min(link.cost.width_bits for link in links)) * hw.io_cycle_ns
                  + math.ceil(math.log2(len(per_tile))) * hw.interconnect.adder_ns + hw.tile.read_ns + hw.tile.write_ns,
                  {link.kind: 0.0 for link in links}, (), {})
    for link in links:
        stream.energy[link.kind] += bits * link.cost.pj_per_bit
        stream.traffic[link.kind] = stream.traffic.get(link.kind, 0.0) + nbytes
    adders = [n for link in links for n in (link.src, link.dst) if ".L" in n and places.topo.nodes[n].adder]
    stream.resources = tuple(dict.fromkeys([link_resource(link) for link in links] +
                                           [f"adder:{n}" for n in adders]))
    words_out = ctx.words(elements)
    stream.energy["buffers"] = words_out * (hw.tile.read_pj * (len(per_tile) - 1) + hw.tile.write_pj)
    return cost.add(stream)


def _tree(places: Places, terminals: list[str], root: str) -> tuple[list[Link], float]:
    """The links of a Steiner tree over ``terminals`` and the latency of its longest path to ``root``: the
    shorter (in wire latency, so in wire energy) of the trees over the links the banks' modes allow and over
    the H-tree alone (the approximation is not monotone in the links it may use)."""
    links, depth = _tree_in(places.topo, tuple(terminals), root, places.mode(*terminals))
    return list(links), depth


@lru_cache(maxsize=1024)
def _tree_in(topo: Topology, terminals: tuple[str, ...], root: str, mode: str) -> tuple[tuple[Link, ...], float]:
    allowed = TARGET_LINKS[topo.target] & MODE_LINKS[mode]
    variants = {frozenset(allowed), frozenset(allowed & {"htree", "bus"})}
    trees = [t for kinds in variants if (t := _steiner(topo, kinds, list(terminals))) is not None]
    tree = min(trees, key=lambda t: (t.size(weight="weight"), _edges(t)))
    depth = max(nx.shortest_path_length(tree, t, root, weight="weight") for t in terminals)
    return tuple(topo.graph[a][b]["link"] for a, b in _edges(tree)), depth


def _edges(tree: nx.Graph) -> list[tuple[str, str]]:
    """The tree's edges in a canonical order: networkx returns each edge in either orientation, depending on
    the order of sets inside the approximation (the process's string hashing), and the links' order is the
    order in which their energies are summed."""
    return sorted(tuple(sorted(e)) for e in tree.edges)


@lru_cache(maxsize=16)
def _weighted(topo: Topology, kinds: frozenset[str]) -> nx.Graph:
    """The links of ``kinds`` weighted by their latency (built once per topology and kinds; not modified)."""
    weighted = nx.Graph()
    for a, b, d in topo.graph.edges(data=True):
        if d["link"].kind in kinds:
            weighted.add_edge(a, b, weight=d["link"].cost.latency_ns)
    return weighted


def _steiner(topo: Topology, kinds: frozenset[str], terminals: list[str]) -> nx.Graph | None:
    """A Steiner tree over the links of ``kinds`` (``None`` when they do not connect the terminals)."""
    weighted = _weighted(topo, kinds)
    if any(t not in weighted for t in terminals):
        return None
    component = nx.node_connected_component(weighted, terminals[0])
    if any(t not in component for t in terminals):
        return None
    # the whole graph when it is connected: a subgraph view of every node iterates in the graph's own order
    # (the same tree) and filters every lookup (most of the approximation's time)
    part = weighted if len(component) == len(weighted) else weighted.subgraph(component)
    return steiner_tree(part, sorted(terminals), weight="weight")


def sync_tasks(ins: Instr, ctx: Context, places: Places) -> list[TaskSpec]:
    """Whole-batch statistics of a sharded batch norm: per-channel sums up a tree and back down."""
    dst = ins.operands["dst"]
    assert isinstance(dst, Ref)
    k = ctx.layout.pieces(dst.name)
    if k == 1:
        return []
    channels = ctx.buffers[dst.name].shape[0]
    values = 2 * channels
    nbytes = values * ctx.value_bits // 8
    piece = [ctx.layout.piece_name(dst.name, p) for p in range(k)]
    homes = [places.home_of(dst.name, p) for p in range(k)]
    up = [(f"sync {piece[j]}->{piece[i]}", _combine(ctx, places, homes[j], homes[i], nbytes, values, True),
           [piece[j], piece[i]], [piece[i]]) for i, j in tree_pairs(k)]
    down = [(f"sync {piece[i]}->{piece[j]}", _combine(ctx, places, homes[i], homes[j], nbytes, 0, False),
             [piece[i]], [piece[j]]) for i, j in reversed(tree_pairs(k))]
    return up + down


def tree_pairs(k: int) -> list[tuple[int, int]]:
    """(into, from) pairs level by level: 1->0, 3->2, … then 2->0, 6->4, … (``ceil(log2 k)`` levels)."""
    out = []
    for level in range(math.ceil(math.log2(k))):
        stride = 1 << level
        out += [(i, i + stride) for i in range(0, k, 2 * stride) if i + stride < k]
    return out


def _combine(ctx: Context, places: Places, src: str, dst: str, nbytes: int, elements: int, in_network: bool) -> Cost:
    """Move ``nbytes`` from ``src`` to ``dst`` and add ``elements`` values: on the adder of the route's turning
    node (in flight, one word of latency) or, at the destination, by its tile's peripherals."""
    hw = ctx.hw
    links = shortest(places.topo, src, dst, places.mode(src, dst))
    move = transfer(places.topo, links, nbytes)
    if not elements:
        return move
    adds = {"alu": elements * hw.interconnect.adder_pj_per_add}
    if in_network and links:
        node = min((n for link in links for n in (link.src, link.dst) if ".L" in n),
                   key=lambda n: places.topo.nodes[n].level, default=None)
        if node is not None:
            return move.add(Cost(hw.interconnect.adder_ns, adds, (f"adder:{node}",)))
    words = ctx.words(elements)
    ns = 2 * hw.tile.read_ns + hw.tile.write_ns + 2 * words * hw.io_cycle_ns
    adds["buffers"] = words * (2 * hw.tile.read_pj + hw.tile.write_pj)
    return move.add(Cost(ns, adds, (f"tile:{dst}",)))

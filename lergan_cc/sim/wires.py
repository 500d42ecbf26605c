"""Moving bytes over the topology: routes as written, their cost, the resources they hold.

An ``xfer`` names its route by wire kinds only; :func:`resolve` finds the links (Dijkstra over
(node, hop) pairs that follow the kinds in order), so the cost model knows the H-tree level of
every hop and which wires two transfers share. A transfer holds every link of its route for
its whole duration (circuit switched), which is how shared wires serialise.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

from lergan_cc.errors import LerganError
from lergan_cc.sim.costs import Cost
from lergan_cc.targets.geometry import HOST, Link, Topology

SWITCHED = ("horizontal", "vertical")


def link_resource(link: Link) -> str:
    """The bus is one shared medium; every other wire is its own resource."""
    return "bus" if link.kind == "bus" else link.id


def resolve(topo: Topology, src: str, dst: str, kinds: tuple[str, ...]) -> list[Link]:
    """The cheapest path from ``src`` to ``dst`` whose hops have exactly the wire kinds ``kinds``."""
    return list(_resolve(topo, src, dst, kinds))


@lru_cache(maxsize=4096)
def _resolve(topo: Topology, src: str, dst: str, kinds: tuple[str, ...]) -> tuple[Link, ...]:
    if src not in topo.nodes or dst not in topo.nodes:
        raise LerganError(f"xfer: no node {src if src not in topo.nodes else dst} on target {topo.target}")
    best: dict[tuple[str, int], float] = {(src, 0): 0.0}
    back: dict[tuple[str, int], tuple[str, Link]] = {}
    heap = [(0.0, src, 0)]
    while heap:
        t, node, i = heapq.heappop(heap)
        if i == len(kinds):
            if node == dst:
                return _path(back, dst, i)
            continue
        if t > best.get((node, i), float("inf")):
            continue
        for nxt in topo.graph[node]:
            link = topo.graph[node][nxt]["link"]
            if link.kind != kinds[i]:
                continue
            key, nt = (nxt, i + 1), t + link.cost.latency_ns
            if nt < best.get(key, float("inf")):
                best[key], back[key] = nt, (node, link if link.src == node else link.reversed())
                heapq.heappush(heap, (nt, nxt, i + 1))
    raise LerganError(f"xfer: no route {src} -> {dst} over {list(kinds)} on target {topo.target}")


def _path(back: dict[tuple[str, int], tuple[str, Link]], dst: str, n: int) -> tuple[Link, ...]:
    out, node = [], dst
    for i in range(n, 0, -1):
        node_prev, link = back[(node, i)]
        out.append(link)
        node = node_prev
    return tuple(reversed(out))


@lru_cache(maxsize=4096)
def shortest(topo: Topology, src: str, dst: str, mode: str) -> tuple[Link, ...]:
    """The route the controller would pick for a move the program leaves implicit."""
    return tuple(topo.route(src, dst, mode)) if src != dst else ()


def transfer(topo: Topology, links: tuple[Link, ...] | list[Link], nbytes: int) -> Cost:
    """Wire latencies plus serialisation on the narrowest link; a BArray read at a source tile and a
    write at a destination tile (the host end has none); bits x pJ/bit per wire kind."""
    if not links or nbytes <= 0:
        return Cost()
    hw = topo.hw
    ns, _ = topo.transfer(list(links), nbytes)
    bits = 8 * nbytes
    energy: dict[str, float] = {}
    traffic: dict[str, float] = {}
    for link in links:
        energy[link.kind] = energy.get(link.kind, 0.0) + bits * link.cost.pj_per_bit
        traffic[link.kind] = traffic.get(link.kind, 0.0) + nbytes
    words = -(-bits // hw.htree_width(hw.htree_depth))
    src_tile, dst_tile = links[0].src != HOST and ".T" in links[0].src, ".T" in links[-1].dst
    energy["buffers"] = words * (hw.tile.read_pj * src_tile + hw.tile.write_pj * dst_tile)
    ns += hw.tile.read_ns * src_tile + hw.tile.write_ns * dst_tile
    switches = [f"switch:{link.src}" for link in links if link.kind in SWITCHED]
    resources = tuple(dict.fromkeys([link_resource(link) for link in links] + switches))
    return Cost(ns, energy, resources, traffic)


def multicast(topo: Topology, routes: list[tuple[Link, ...]], nbytes: int) -> Cost:
    """One stream to several destinations over the union of their routes (a tree): every link carries the
    data once; the time is the longest route's latency plus serialisation on the narrowest link used;
    every destination tile writes the data into its BArray."""
    links = list({link.id: link for route in routes for link in route}.values())
    if not links or nbytes <= 0:
        return Cost()
    hw = topo.hw
    bits = 8 * nbytes
    longest = max(sum(link.cost.latency_ns for link in route) for route in routes)
    narrowest = min(link.cost.width_bits for link in links)
    tiles = {route[-1].dst for route in routes if route and ".T" in route[-1].dst}
    words = -(-bits // hw.htree_width(hw.htree_depth))
    energy: dict[str, float] = {"buffers": words * hw.tile.write_pj * len(tiles)}
    traffic: dict[str, float] = {}
    for link in links:
        energy[link.kind] = energy.get(link.kind, 0.0) + bits * link.cost.pj_per_bit
        traffic[link.kind] = traffic.get(link.kind, 0.0) + nbytes
    ns = longest + -(-bits // narrowest) * hw.io_cycle_ns + hw.tile.write_ns
    switches = [f"switch:{link.src}" for link in links if link.kind in SWITCHED]
    resources = tuple(dict.fromkeys([link_resource(link) for link in links] + switches))
    return Cost(ns, energy, resources, traffic)

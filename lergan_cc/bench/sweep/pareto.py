"""Pareto fronts: the points no other point beats on every objective (all minimised)."""

from __future__ import annotations

from collections.abc import Sequence

Vector = Sequence[float]


def dominates(a: Vector, b: Vector) -> bool:
    """``a`` is no worse than ``b`` on every objective and better on one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def front(points: Sequence[Vector]) -> list[int]:
    """Indices of the non-dominated points, in input order; equal points are all kept.

    Sorted lexicographically, a point can only be dominated by one before it, and if it is, then by
    one already on the front (domination is transitive), so each point is checked against the front
    only: O(n·f) instead of O(n²).
    """
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]))
    kept: list[int] = []
    for i in order:
        if not any(dominates(points[j], points[i]) for j in kept):
            kept.append(i)
    return sorted(kept)

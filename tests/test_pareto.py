"""Pareto fronts against a brute-force definition, over random point sets with many ties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lergan_cc.bench.sweep import outputs, pareto


def brute_force(points: list[tuple[float, ...]]) -> list[int]:
    """Index i is on the front iff no point is <= it everywhere and < it somewhere."""
    return [i for i, p in enumerate(points)
            if not any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for q in points)]


def vectors(dims: int, values: st.SearchStrategy[float]) -> st.SearchStrategy[list[tuple[float, ...]]]:
    return st.lists(st.tuples(*[values] * dims), max_size=60)


@given(vectors(3, st.integers(0, 5)))
def test_front_matches_brute_force_with_ties(points: list[tuple[float, ...]]) -> None:
    assert pareto.front(points) == brute_force(points)


@given(st.integers(1, 4).flatmap(lambda d: vectors(d, st.floats(0, 1e12, allow_nan=False))))
def test_front_matches_brute_force_any_dimension(points: list[tuple[float, ...]]) -> None:
    assert pareto.front(points) == brute_force(points)


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
                          st.booleans()), max_size=30))
def test_fronts_are_per_model_and_skip_failed_runs(raw: list[tuple[str, int, int, int, bool]]) -> None:
    rows = [{"point": i, "model": m, "config": "c", "time_ns": t, "energy_pj": e,
             "crossbars_used": x if ok else None} for i, (m, t, e, x, ok) in enumerate(raw)]
    fronts = outputs.fronts(rows)
    for model, front in fronts.items():
        mine = [r for r in rows if r["model"] == model and r["crossbars_used"] is not None]
        vec = [(r["time_ns"], r["energy_pj"], r["crossbars_used"]) for r in mine]
        assert sorted(r["point"] for r in front) == sorted(mine[i]["point"] for i in brute_force(vec))
        assert [r["time_ns"] for r in front] == sorted(r["time_ns"] for r in front)

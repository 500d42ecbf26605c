"""The hardware points of a sweep: the grid or the seeded samples, the one-at-a-time points of the
sensitivity study, and each point's hardware description as a TOML overlay, checked in full.

A point's hardware is the base (the packaged defaults, or the sweep's ``hw`` file) with the point's
values written over it; its overlay text is canonical (sorted sections and keys), so the same point
always has the same bytes, hence the same cache key as an ``--hw`` file holding them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lergan_cc.bench.sweep.spec import Param, Sweep, tidy
from lergan_cc.targets.hw import load_hw

DESIGN, SENSITIVITY = "design", "sensitivity"
Values = dict[str, Any]  # "section.key" -> value


@dataclass(frozen=True)
class Point:
    index: int
    values: Values
    roles: tuple[str, ...]
    hw_text: str  # the overlay: what a worker's lerganc reads with --hw

    @property
    def hw_id(self) -> str:
        return hashlib.sha256(self.hw_text.encode()).hexdigest()[:12]


@dataclass
class Design:
    points: list[Point]
    defaults: Values  # each parameter's value in the base hardware
    default_point: int | None = None  # the point with every parameter at its default (sensitivity reference)
    one_at_a_time: dict[str, list[int]] = field(default_factory=dict)  # parameter -> its points, others default


# ---- the main design ---------------------------------------------------------------------------

def grid(params: tuple[Param, ...]) -> list[Values]:
    """Every combination, the first parameter varying slowest."""
    return [dict(zip((p.name for p in params), combo, strict=True))
            for combo in itertools.product(*(p.values for p in params))]


def _from_unit(p: Param, u: np.ndarray) -> list[Any]:
    """Unit-interval draws as values: an index into a list, or a point of a range (log-uniform for log)."""
    if not p.is_range:
        idx = np.minimum((u * len(p.values)).astype(int), len(p.values) - 1)
        return [p.values[i] for i in idx]
    assert p.low is not None and p.high is not None
    if p.log:
        lo, hi = math.log(p.low), math.log(p.high)
        return [tidy(math.exp(lo + (hi - lo) * x), p.kind) for x in u]
    return [tidy(p.low + (p.high - p.low) * x, p.kind) for x in u]


def random(params: tuple[Param, ...], samples: int, seed: int) -> list[Values]:
    """Each parameter drawn independently and uniformly (log-uniformly for log ranges)."""
    rng = np.random.default_rng(seed)
    columns = {p.name: _from_unit(p, rng.random(samples)) for p in params}
    return [{name: col[i] for name, col in columns.items()} for i in range(samples)]


def latin_hypercube(params: tuple[Param, ...], samples: int, seed: int) -> list[Values]:
    """Each parameter's range cut into ``samples`` equal strata, one draw in each, strata shuffled
    independently per parameter (McKay et al. 1979): every 1-D projection is evenly covered."""
    rng = np.random.default_rng(seed)
    columns = {p.name: _from_unit(p, (rng.permutation(samples) + rng.random(samples)) / samples) for p in params}
    return [{name: col[i] for name, col in columns.items()} for i in range(samples)]


def main_design(sweep: Sweep) -> list[Values]:
    if sweep.sampling == "grid":
        return grid(sweep.params)
    assert sweep.samples is not None and sweep.seed is not None
    draw = random if sweep.sampling == "random" else latin_hypercube
    return draw(sweep.params, sweep.samples, sweep.seed)


# ---- one parameter at a time ---------------------------------------------------------------------

def one_at_a_time(params: tuple[Param, ...], defaults: Values) -> dict[str, list[Values]]:
    """For each parameter, its grid values with every other parameter at its default."""
    return {p.name: [{**defaults, p.name: v} for v in p.values] for p in params}


# ---- hardware overlays -------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def overlay_text(base: dict[str, Any], values: Values) -> str:
    """The base overlay with ``values`` written over it, as canonical TOML."""
    merged: dict[str, dict[str, Any]] = {s: dict(t) for s, t in base.items()}
    for name, value in values.items():
        section, key = name.split(".", 1)
        merged.setdefault(section, {})[key] = value
    lines = []
    for section in sorted(merged):
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(_plain(v))}" for k, v in sorted(merged[section].items())]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """A value read back from TOML (lists) in the form the writer takes (tuples, floats as floats)."""
    return tuple(value) if isinstance(value, list) else value


def _describe(values: Values) -> str:
    return ", ".join(f"{k}={_toml_value(v)}" for k, v in values.items()) or "defaults"


def base_overlay(sweep: Sweep) -> dict[str, Any]:
    if sweep.hw is None:
        return {}
    with open(sweep.hw, "rb") as f:
        return tomllib.load(f)


def design(sweep: Sweep) -> Design:
    """Every point of the sweep, each one's hardware built and validated (cross-field checks included)."""
    base_hw = load_hw(sweep.hw)  # a bad base file fails here, blamed on itself
    base = base_overlay(sweep)
    defaults = {p.name: getattr(getattr(base_hw, p.section), p.key) for p in sweep.params}
    roles: dict[tuple[Any, ...], list[str]] = {}
    by_values: dict[tuple[Any, ...], Values] = {}

    def add(values: Values, role: str) -> tuple[Any, ...]:
        k = tuple(values[p.name] for p in sweep.params)
        by_values.setdefault(k, values)
        if role not in roles.setdefault(k, []):
            roles[k].append(role)
        return k

    for values in main_design(sweep):
        add(values, DESIGN)
    oat = {}
    default_key = None
    if sweep.sensitivity and sweep.params:
        default_key = add(dict(defaults), SENSITIVITY)
        oat = {name: [add(v, SENSITIVITY) for v in vs] for name, vs in one_at_a_time(sweep.params, defaults).items()}
    order = list(roles)  # first seen first: the main design, then the sensitivity points it lacks
    index = {k: i for i, k in enumerate(order)}
    points = [_point(sweep, i, by_values[k], tuple(roles[k]), base) for i, k in enumerate(order)]
    return Design(points, defaults, None if default_key is None else index[default_key],
                  {name: [index[k] for k in ks] for name, ks in oat.items()})


def _point(sweep: Sweep, i: int, values: Values, roles: tuple[str, ...], base: dict[str, Any]) -> Point:
    text = overlay_text(base, values)
    load_hw(None, overrides=tomllib.loads(text), where=f"{sweep.path}: point {i} ({_describe(values)})")
    return Point(i, values, roles, text)

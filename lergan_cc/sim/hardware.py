"""The hardware a program was compiled for, rebuilt from its ``hw`` header line.

The simulator costs a program with the description written into it (DESIGN §7: it reads the
``.fsm`` and nothing else), so a ``--hw`` override at compile time moves the times and energies.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Any, get_type_hints

from lergan_cc.errors import LerganError
from lergan_cc.fsm.program import Program
from lergan_cc.targets.geometry import Topology, build_topology
from lergan_cc.targets.hw import Hardware, _convert, validate


def hardware_of(program: Program, path: str = "<fsm>") -> Hardware:
    """The :class:`Hardware` of the header's ``section.key`` values (every key is required)."""
    return _hardware(tuple(sorted((k, _hashable(v)) for k, v in program.hw.items())), path)


def topology_of(program: Program, path: str = "<fsm>") -> Topology:
    target = str(program.attrs.get("target", "lergan-3d"))
    try:
        return build_topology(hardware_of(program, path), target)
    except ValueError as e:
        raise LerganError(f"{path}: {e}") from None


def _hashable(v: Any) -> Any:
    return tuple(str(x) for x in v) if isinstance(v, list) else v


@lru_cache(maxsize=8)
def _hardware(items: tuple[tuple[str, Any], ...], path: str) -> Hardware:
    flat = dict(items)
    parts = {}
    for section, cls in get_type_hints(Hardware).items():
        hints = get_type_hints(cls)
        values = {}
        for f in fields(cls):
            key = f"{section}.{f.name}"
            if key not in flat:
                raise LerganError(f"{path}: hw header: missing '{key}' (the cost model needs the whole description)")
            v = list(flat[key]) if isinstance(flat[key], tuple) else flat[key]
            values[f.name] = _convert(v, hints[f.name], f"{path}: hw header: {key}")
        parts[section] = cls(**values)
    hw = Hardware(**parts)
    validate(hw, f"{path}: hw header")
    return hw

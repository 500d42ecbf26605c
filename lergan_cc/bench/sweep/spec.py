"""A sweep file, read and checked: models, design points, hardware parameters and how to sample them.

::

    models = ["dcgan", "magan_mnist"]          # Table V names or .lergan paths (relative to this file)
    configs = ["prime", "lergan-low"]           # design points (lergan-bench --configs names)
    sampling = "grid"                           # grid (default) | random | lhs (Latin hypercube)
    # samples = 200                             # random / lhs: hardware points drawn
    # seed = 1                                  # random / lhs (default 0)
    # batch = 64
    # hw = "base.toml"                          # the hardware the parameters are applied to
    # sensitivity = true                        # also run each parameter alone, others at default

    [params]
    tile.read_ns = [2.9, 5.8]                               # a list of values
    isaac.read_ns_per_slice = {log = [25, 1600], n = 5}     # n values, evenly spaced in log
    isaac.adc_gsps = {lin = [0.64, 2.56], n = 4}            # n values, evenly spaced

Every parameter is checked against the hardware schema (``targets/hw.py``: section, key, type) here;
the cross-field checks run on every derived point (``points.py``). Problems are one line naming the
file and the key, with a suggestion for a misspelt name.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

from lergan_cc.bench import configs
from lergan_cc.errors import LerganError
from lergan_cc.targets import hw as hw_mod

SAMPLINGS = ("grid", "random", "lhs")
TOP_KEYS = ("models", "configs", "sampling", "samples", "seed", "batch", "hw", "sensitivity", "params")
RANGE_KINDS = ("log", "lin")


@dataclass(frozen=True)
class Param:
    """One swept hardware parameter: its grid values and, for a range, the interval random/LHS draw from."""

    name: str  # "section.key"
    kind: Any  # int, float or tuple[str, ...] (the schema's type)
    values: tuple[Any, ...]
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass(frozen=True)
class Sweep:
    path: str
    models: tuple[configs.Model, ...]
    configs: tuple[str, ...]
    params: tuple[Param, ...]
    sampling: str = "grid"
    samples: int | None = None
    seed: int | None = None
    batch: int = 64
    hw: str | None = None
    sensitivity: bool = True


def schema() -> dict[str, Any]:
    """``{"section.key": type}`` for every hardware field, from the ``Hardware`` dataclass itself."""
    out: dict[str, Any] = {}
    for section, cls in get_type_hints(hw_mod.Hardware).items():
        hints = get_type_hints(cls)
        out.update({f"{section}.{f.name}": hints[f.name] for f in fields(cls)})
    return out


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def load(path: str, base_hw: str | None = None) -> Sweep:
    """Read and check ``path``; ``base_hw`` (``--hw``) is the hardware the parameters apply to."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise LerganError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", str(e))
        where = f"{path}:{m[1]}:{m[2]}" if m else path
        raise LerganError(f"{where}: TOML syntax error: {str(e)[:m.start()] if m else e}") from None
    except UnicodeDecodeError:
        raise LerganError(f"{path}: not UTF-8 text") from None
    return _sweep(path, raw, base_hw)


def _sweep(path: str, raw: dict[str, Any], base_hw: str | None) -> Sweep:
    for key in raw:
        if key not in TOP_KEYS:
            raise LerganError(f"{path}: {key}: unknown key{_suggest(key, list(TOP_KEYS))}")
    for key in ("models", "configs"):
        if key not in raw:
            raise LerganError(f"{path}: {key}: missing (a list of names)")
    here = Path(path).resolve().parent
    sampling = _choice(path, raw, "sampling", SAMPLINGS, "grid")
    samples, seed = _sampling_counts(path, raw, sampling)
    hw = _base_hw(path, raw, base_hw, here)
    return Sweep(path, tuple(_models(path, raw["models"], here)), tuple(_configs(path, raw["configs"])),
                 tuple(_params(path, raw.get("params", {}))), sampling, samples, seed,
                 _integer(path, raw, "batch", 64, least=1), hw, _flag(path, raw, "sensitivity", True))


def _names(path: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise LerganError(f"{path}: {key}: expected a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise LerganError(f"{path}: {key}: '{next(v for v in value if value.count(v) > 1)}' is named twice")
    return value


def _models(path: str, value: Any, here: Path) -> list[configs.Model]:
    out = []
    for name in _names(path, "models", value):
        if name in configs.MODELS:
            file = configs.examples_dir() / f"{name}.lergan"
            if not file.is_file():
                raise LerganError(f"{path}: models: {file}: no such file (run from the repository or give a path)")
            out.append(configs.Model(name, file, configs.MODELS[name]))
            continue
        file = here / name
        if file.suffix != ".lergan" or not file.is_file():
            raise LerganError(f"{path}: models: unknown benchmark '{name}'{_suggest(name, list(configs.MODELS))} "
                              "(a Table V name, or a .lergan file relative to the sweep file)")
        out.append(configs.Model(file.stem, file, file.stem))
    return out


def _configs(path: str, value: Any) -> list[str]:
    names = _names(path, "configs", value)
    for name in names:
        if name not in configs.CONFIGS:
            raise LerganError(f"{path}: configs: unknown design point '{name}'{_suggest(name, list(configs.CONFIGS))}"
                              f" (known: {', '.join(configs.CONFIGS)})")
    return names


def _choice(path: str, raw: dict[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in options:
        raise LerganError(f"{path}: {key}: expected one of {', '.join(options)}, got {value!r}"
                          f"{_suggest(str(value), list(options))}")
    return value


def _integer(path: str, raw: dict[str, Any], key: str, default: int | None, least: int) -> Any:
    value = raw.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
        raise LerganError(f"{path}: {key}: expected an integer >= {least}, got {value!r}")
    return value


def _flag(path: str, raw: dict[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise LerganError(f"{path}: {key}: expected true or false, got {value!r}")
    return value


def _sampling_counts(path: str, raw: dict[str, Any], sampling: str) -> tuple[int | None, int | None]:
    if sampling == "grid":
        for key in ("samples", "seed"):
            if key in raw:
                raise LerganError(f"{path}: {key}: only with sampling = \"random\" or \"lhs\" (a grid takes every "
                                  "combination)")
        return None, None
    if "samples" not in raw:
        raise LerganError(f"{path}: samples: missing (sampling = \"{sampling}\" draws that many hardware points)")
    return _integer(path, raw, "samples", None, least=1), _integer(path, raw, "seed", 0, least=0)


def _base_hw(path: str, raw: dict[str, Any], base_hw: str | None, here: Path) -> str | None:
    if "hw" not in raw:
        return base_hw
    if base_hw is not None:
        raise LerganError(f"{path}: hw: the base hardware is given twice (here and --hw {base_hw})")
    if not isinstance(raw["hw"], str):
        raise LerganError(f"{path}: hw: expected a file name, got {raw['hw']!r}")
    file = here / raw["hw"]
    if not file.is_file():
        raise LerganError(f"{path}: hw: {file}: no such file")
    return str(file)


# ---- parameters -------------------------------------------------------------------------------

def _params(path: str, table: Any) -> list[Param]:
    if not isinstance(table, dict):
        raise LerganError(f"{path}: params: expected a table [params], got {type(table).__name__}")
    known = schema()
    sections = sorted({n.split(".")[0] for n in known})
    out = []
    for section, keys in table.items():
        if not isinstance(keys, dict) or _is_range_table(keys):  # `read_ns = [...]` without its section
            full = [n for n in known if n.endswith(f".{section}")]
            hint = f" (did you mean '{full[0]}'?)" if full else ""
            raise LerganError(f"{path}: params.{section}: expected section.key{hint}")
        if section not in sections:
            raise LerganError(f"{path}: params.{section}: unknown hardware section{_suggest(section, sections)}")
        for key, spec in keys.items():
            name = f"{section}.{key}"
            if name not in known:
                raise LerganError(f"{path}: params.{name}: unknown hardware parameter{_suggest(name, list(known))}")
            out.append(_param(f"{path}: params.{name}", name, known[name], spec))
    return out


def _is_range_table(value: dict[str, Any]) -> bool:
    return any(k in value for k in (*RANGE_KINDS, "n"))


def _param(where: str, name: str, kind: Any, spec: Any) -> Param:
    if isinstance(spec, list):
        if not spec:
            raise LerganError(f"{where}: expected at least one value")
        values = tuple(_value(where, kind, v) for v in spec)
        repeated = [v for v in values if values.count(v) > 1]
        if repeated:
            raise LerganError(f"{where}: value {repeated[0]!r} is listed twice")
        return Param(name, kind, values)
    if isinstance(spec, dict):
        return _range(where, name, kind, spec)
    raise LerganError(f"{where}: expected a list of values or {{log|lin = [low, high], n = N}}, got {spec!r}")


def _value(where: str, kind: Any, value: Any) -> Any:
    """One candidate value, typed as the hardware schema types it (ints are accepted for numbers)."""
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == tuple[str, ...] and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = {int: "an integer", float: "a number"}.get(kind, "a list of strings")
    raise LerganError(f"{where}: expected {expected} for each value, got {type(value).__name__} {value!r}")


def _range(where: str, name: str, kind: Any, spec: dict[str, Any]) -> Param:
    for key in spec:
        if key not in (*RANGE_KINDS, "n"):
            raise LerganError(f"{where}: {key}: unknown range key{_suggest(key, [*RANGE_KINDS, 'n'])} "
                              "(a range is {log|lin = [low, high], n = N})")
    scales = [k for k in RANGE_KINDS if k in spec]
    if len(scales) != 1:
        raise LerganError(f"{where}: a range needs exactly one of log = [low, high] or lin = [low, high]")
    if kind not in (int, float):
        raise LerganError(f"{where}: a range needs a numeric parameter; give a list of values")
    log = scales[0] == "log"
    bounds = spec[scales[0]]
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
        raise LerganError(f"{where}: {scales[0]}: expected [low, high], got {bounds!r}")
    low, high = float(bounds[0]), float(bounds[1])
    if not low < high or (log and low <= 0) or not (math.isfinite(low) and math.isfinite(high)):
        raise LerganError(f"{where}: {scales[0]}: expected {'0 < ' if log else ''}low < high, got {bounds!r}")
    n = spec.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise LerganError(f"{where}: n: expected an integer >= 2 (the grid's values), got {n!r}")
    return Param(name, kind, spaced(low, high, n, log, kind), low, high, log)


def tidy(value: float, kind: Any) -> Any:
    """A computed value as the schema types it: ints rounded, floats to 6 significant digits (readable
    columns; the cache key and the hardware file see the same number)."""
    return round(value) if kind is int else float(f"{value:.6g}")


def spaced(low: float, high: float, n: int, log: bool, kind: Any) -> tuple[Any, ...]:
    """``n`` values from ``low`` to ``high``, evenly spaced (in log for ``log``); ints deduplicated."""
    if log:
        a, b = math.log(low), math.log(high)
        raw = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
    else:
        raw = [low + (high - low) * i / (n - 1) for i in range(n)]
    raw[0], raw[-1] = low, high
    return tuple(dict.fromkeys(tidy(v, kind) for v in raw))

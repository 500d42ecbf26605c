"""The paper's GPU and FPGA-GAN baselines (§VI-A, Fig. 21-22) as ideal rooflines over the iteration's work.

An op takes ``max(MACs / peak, bytes / bandwidth)``: it is either compute or memory bound, with
perfect reuse inside the op and none across ops (every op reads its operands from off-chip memory
and writes its result back, as a framework without fusion does). Energy is the device's power over
that time. Both are each device's best case, so LerGAN's speedups over them are lower bounds on
its speedups over a real GPU or FPGA. Parameters: ``baselines.toml`` beside this file, each cited.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from lergan_cc.bench.configs import MODELS, REFERENCES
from lergan_cc.errors import LerganError, did_you_mean


@dataclass(frozen=True)
class Device:
    name: str
    label: str
    macs_per_s: float
    bytes_per_s: float
    value_bytes: int
    power_w: float

    def op_time_ns(self, work: dict[str, Any], batch: int) -> tuple[float, bool]:
        """One run of one op: its time and whether compute (not memory) bounds it."""
        compute = batch * work["macs"] / self.macs_per_s
        memory = (batch * work["act_values"] + work["param_values"]) * self.value_bytes / self.bytes_per_s
        return 1e9 * max(compute, memory), compute >= memory


DEFAULTS = Path(__file__).with_name("baselines.toml")


@cache
def devices(override: str | None = None) -> dict[str, Device]:
    """The baselines of ``baselines.toml`` by name (``gpu``, ``fpga-gan``), with the sections and keys
    of ``override`` (``lergan-bench --baselines FILE``) replacing the defaults they name."""
    data = _read(str(DEFAULTS))
    if set(data) != set(REFERENCES):  # results.compare names its fields after REFERENCES
        raise LerganError(f"{DEFAULTS}: expected sections {sorted(REFERENCES)}, found {sorted(data)}")
    overrides = _read(override) if override else {}
    for name, fields in overrides.items():
        if name not in data or not isinstance(fields, dict):
            raise LerganError(f"{override}: unknown baseline [{name}]{did_you_mean(str(name), data)} "
                              f"(known: {', '.join(data)})")
        for key, value in fields.items():
            data[name][key] = _checked(str(override), name, key, value)
    return {name: Device(name, **fields) for name, fields in data.items()}


def _read(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise LerganError(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise LerganError(f"{path}: not UTF-8 text (byte {e.start}): not a TOML file") from None
    except ValueError as e:  # TOMLDecodeError, or an integer past Python's 4,300 digits
        raise LerganError(f"{path}: {' '.join(str(e).split())[:200]}") from None


MAX_VALUE = 1e18  # a finite positive number (NaN compares false with everything: refused too)
FIELDS = {k: v for k, v in get_type_hints(Device).items() if k != "name"}  # the keys a section may set


def _checked(path: str, name: str, key: str, value: Any) -> Any:
    """One override value: a known key, of its type, positive when a number."""
    kind = FIELDS.get(key)
    if kind is None:
        raise LerganError(f"{path}: [{name}] has no key '{key}'{did_you_mean(key, FIELDS)} (keys: {', '.join(FIELDS)})")
    if kind is str:
        if not isinstance(value, str):
            raise LerganError(f"{path}: [{name}] {key} must be a string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_VALUE \
            or (kind is int and value % 1):
        what = "integer" if kind is int else "number"
        raise LerganError(f"{path}: [{name}] {key} must be a positive {what} (finite), got {str(value)[:24]}")
    return kind(value)


def roofline(device: Device, work: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """Time and energy of one iteration, total and per phase, and the compute-bound share of the time."""
    phases: dict[str, dict[str, float]] = {}
    compute_bound = 0.0
    for w in work:
        t, bound = device.op_time_ns(w, batch)
        t *= w["runs"]
        compute_bound += t if bound else 0.0
        entry = phases.setdefault(w["phase"], {"time_ns": 0.0, "energy_pj": 0.0})
        entry["time_ns"] += t
        entry["energy_pj"] += t * device.power_w * 1e3  # ns x W = nJ = 1e3 pJ
    time_ns = sum(p["time_ns"] for p in phases.values())
    return {"time_ns": time_ns, "energy_pj": time_ns * device.power_w * 1e3, "phases": phases,
            "compute_bound_share": compute_bound / time_ns if time_ns else None}


def rows(model: str, work: list[dict[str, Any]], batch: int, override: str | None = None) -> list[dict[str, Any]]:
    """A result row per baseline for one benchmark, in the shape ``results.make_row`` gives a simulation."""
    out = []
    for name, device in devices(override).items():
        r = roofline(device, work, batch)
        out.append({"model": model, "config": name, "label": MODELS.get(model, model), "baseline": True,
                    "time_ns": r["time_ns"], "energy_pj": r["energy_pj"], "phases": r["phases"],
                    "compute_bound_share": r["compute_bound_share"], "crossbars_used": None,
                    "crossbars_by_phase": {}})
    return out

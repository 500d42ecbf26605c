"""The hardware description: typed, frozen sections loaded from TOML, validated, with derived costs.

Defaults come from the packaged ``lergan-3d.toml`` (every value cited there); ``--hw FILE``
overrides any subset. Every problem is one :class:`LerganError` line naming the file, the key
path and what is wrong, because a researcher sweeping design points edits these files by hand.
The derived quantities (capacities, the ISAAC-scaled MMV cost, t_m and t_t of paper §V) are
properties, so an override of a primary value moves everything computed from it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any, get_type_hints

from lergan_cc.errors import LerganError

MIB = 1 << 20
MAX_VALUE = 1e12  # any one number of a hardware description (a larger one is a typo, not a design point)
MAX_BANKS, MAX_TILES, MAX_CROSSBARS, MAX_ROWS, MAX_BITS = 1024, 4096, 1 << 24, 1 << 16, 64
NODE_KINDS = ("merging", "multiplexing")
DEFAULTS = "lergan-3d.toml"


@dataclass(frozen=True)
class Crossbar:
    rows: int
    cols: int
    cell_bits: int
    dac_bits: int


@dataclass(frozen=True)
class Precision:
    input_bits: int
    weight_bits: int
    output_bits: int


@dataclass(frozen=True)
class Memory:
    total_mib: int
    bank_mib: int
    tile_mib: int
    carray_mib: int
    barray_mib: int
    sarray_mib: int


@dataclass(frozen=True)
class Access:
    """Read/write latency and energy of one access (a bank or a tile, Table IV)."""

    read_ns: float
    write_ns: float
    read_pj: float
    write_pj: float


@dataclass(frozen=True)
class HTree:
    latency_ns: float
    energy_pj: float
    root_width_bits: int
    node_kinds: tuple[str, ...]


@dataclass(frozen=True)
class IO:
    frequency_ghz: float


@dataclass(frozen=True)
class Isaac:
    """ISAAC's Table 2 numbers, verbatim; the per-crossbar cost for our cells is derived from them."""

    crossbars_per_ima: int
    rows: int
    cols: int
    cell_bits: int
    adc_bits: int
    adc_gsps: float
    adc_mw_per_ima: float
    dac_mw_per_ima: float
    sample_hold_mw_per_ima: float
    array_mw_per_ima: float
    shift_add_mw_per_ima: float
    read_ns_per_slice: float


@dataclass(frozen=True)
class Interconnect:
    horizontal_scale: float
    vertical_scale: float
    switch_ns: float
    switch_pj: float
    adder_ns: float
    adder_pj_per_add: float


@dataclass(frozen=True)
class Wire:
    """An off-tree link (the bus, a bypass link): fixed latency per hop, energy per bit, width."""

    width_bits: int
    latency_ns: float
    pj_per_bit: float


@dataclass(frozen=True)
class Host:
    cores: int
    frequency_ghz: float
    tdp_w: float
    update_cycles_per_element: float
    loss_cycles_per_element: float


@dataclass(frozen=True)
class LinkCost:
    """What one hop over a link costs: latency, energy per bit moved, and width (bits per I/O cycle)."""

    latency_ns: float
    pj_per_bit: float
    width_bits: int


@dataclass(frozen=True)
class MMVCost:
    """One MMV (all input bit slices) in one crossbar, split by component as ISAAC reports it."""

    latency_ns: float
    adc_pj: float
    dac_pj: float
    sample_hold_pj: float
    array_pj: float
    shift_add_pj: float

    @property
    def energy_pj(self) -> float:
        return self.adc_pj + self.dac_pj + self.sample_hold_pj + self.array_pj + self.shift_add_pj


@dataclass(frozen=True)
class Hardware:
    crossbar: Crossbar
    precision: Precision
    memory: Memory
    bank: Access
    tile: Access
    htree: HTree
    io: IO
    isaac: Isaac
    interconnect: Interconnect
    bus: Wire
    bypass: Wire
    host: Host

    def flat(self) -> dict[str, int | float | tuple[str, ...]]:
        """Every primary value as ``section.key`` (what a program's ``hw`` line records)."""
        return {f"{section}.{f.name}": getattr(getattr(self, section), f.name)
                for section in _section_types() for f in fields(getattr(self, section))}

    # ---- capacities -------------------------------------------------------------------------
    @property
    def cells_per_weight(self) -> int:
        return self.precision.weight_bits // self.crossbar.cell_bits

    @property
    def weight_columns_per_crossbar(self) -> int:
        """Weights side by side in one crossbar row: 128 columns / 4 cells = 32."""
        return self.crossbar.cols // self.cells_per_weight

    def matrix_slices(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        """(row slices over all groups, crossbars per row slice) of one copy of a (groups, rows, cols) matrix."""
        groups, rows, cols = shape
        return groups * math.ceil(rows / self.crossbar.rows), math.ceil(cols / self.weight_columns_per_crossbar)

    @property
    def weights_per_crossbar(self) -> int:
        return self.crossbar.rows * self.weight_columns_per_crossbar

    @property
    def bytes_per_value(self) -> int:
        return self.precision.weight_bits // 8

    @property
    def crossbar_bytes(self) -> int:
        return self.crossbar.rows * self.crossbar.cols * self.crossbar.cell_bits // 8

    @property
    def crossbars_per_carray(self) -> int:
        return self.memory.carray_mib * MIB // self.crossbar_bytes

    @property
    def crossbars_per_tile(self) -> int:
        """A tile has one CArray (§VI-A: half of the tile); SArray/BArray crossbars do not compute."""
        return self.crossbars_per_carray

    @property
    def tiles_per_bank(self) -> int:
        return self.memory.bank_mib // self.memory.tile_mib

    @property
    def crossbars_per_bank(self) -> int:
        return self.tiles_per_bank * self.crossbars_per_tile

    @property
    def banks(self) -> int:
        return self.memory.total_mib // self.memory.bank_mib

    @property
    def htree_depth(self) -> int:
        """Levels of routing nodes above the tiles: 4 for 16 tiles (L0 root .. L3)."""
        return self.tiles_per_bank.bit_length() - 1

    # ---- MMV cost: ISAAC scaled to our cells --------------------------------------------------
    @property
    def largest_bitline_sum(self) -> int:
        """The largest sum one crossbar column produces for one input slice: rows x DAC level x cell level."""
        xb = self.crossbar
        return xb.rows * (2**xb.dac_bits - 1) * (2**xb.cell_bits - 1)

    @property
    def adc_bits(self) -> int:
        """Bits to digitise the largest bit-line sum, minus ISAAC's flipped-weight encoding bit.

        ISAAC: 128 rows x (2^1-1) x (2^2-1) = 384 -> 9 bits -> 8. Ours: 128 x 1 x 15 = 1920 -> 11 -> 10.
        """
        return max(1, math.ceil(math.log2(self.largest_bitline_sum + 1)) - 1)

    @property
    def input_slices(self) -> int:
        return self.precision.input_bits // self.crossbar.dac_bits

    @property
    def slice_ns(self) -> float:
        """One crossbar read: ISAAC's 100 ns, or longer if the ADC needs more time for more columns."""
        return max(self.isaac.read_ns_per_slice, self.crossbar.cols / self.isaac.adc_gsps)

    @property
    def mmv(self) -> MMVCost:
        """Per-crossbar MMV cost: ISAAC's per-crossbar powers, scaled, times the MMV's duration.

        ADC power doubles per extra bit (Walden figure of merit at a fixed sample rate) and grows
        with the columns it samples; DACs and sample-and-holds go with the rows; the array with
        rows x columns; shift-and-add with the ADC samples (columns). ISAAC's cell power is kept
        for 4-bit cells: same read voltage and conductance range, only finer levels.
        """
        i, xb = self.isaac, self.crossbar
        per_xbar = 1.0 / i.crossbars_per_ima
        rows, cols = xb.rows / i.rows, xb.cols / i.cols
        t = self.input_slices * self.slice_ns
        mw = {
            "adc": i.adc_mw_per_ima * per_xbar * 2.0 ** (self.adc_bits - i.adc_bits) * cols,
            "dac": i.dac_mw_per_ima * per_xbar * rows,
            "sample_hold": i.sample_hold_mw_per_ima * per_xbar * rows,
            "array": i.array_mw_per_ima * per_xbar * rows * cols,
            "shift_add": i.shift_add_mw_per_ima * per_xbar * cols,
        }
        return MMVCost(t, **{f"{k}_pj": p * t for k, p in mw.items()})  # mW x ns = pJ

    @property
    def t_m_ns(self) -> float:
        """§V t_m: one MMV in a CArray. Its crossbars run in parallel, so one crossbar MMV."""
        return self.mmv.latency_ns

    @property
    def t_t_ns(self) -> float:
        """§V t_t: move one leaf-link word from a tile to its sibling tile.

        Tile read, up and down the two leaf-level H-tree segments, one I/O cycle on the link,
        tile write. ``replica_e_max`` is the largest replica count with
        (ceil(layer_size / CArray_size) - 1) * t_t <= t_m * reuse_i / replica_i.
        """
        return self.tile.read_ns + 2 * self.htree_hop(self.htree_depth).latency_ns + self.io_cycle_ns \
            + self.tile.write_ns

    # ---- wires ------------------------------------------------------------------------------
    @property
    def io_cycle_ns(self) -> float:
        return 1.0 / self.io.frequency_ghz

    def htree_fraction(self, level: int) -> float:
        """Share of the root-to-leaf H-tree length in the segment entering ``level`` (1 = below root).

        In an H-tree over a square of tiles the segment length halves every two levels:
        for 16 tiles the segments are S/4, S/4, S/8, S/8 -> 1/3, 1/3, 1/6, 1/6 of Table IV's cost.
        """
        lengths = [2.0 ** -((d - 1) // 2) for d in range(1, self.htree_depth + 1)]
        return lengths[level - 1] / sum(lengths)

    def htree_width(self, level: int) -> int:
        """Width of the link entering ``level``: the root width halved at every merging node above it."""
        merges = sum(kind == "merging" for kind in self.htree.node_kinds[:level])
        return self.htree.root_width_bits >> merges

    def htree_hop(self, level: int) -> LinkCost:
        f = self.htree_fraction(level)
        return LinkCost(self.htree.latency_ns * f, self.htree.energy_pj * f / self.htree.root_width_bits,
                        self.htree_width(level))

    def horizontal_hop(self, level: int) -> LinkCost:
        h, s = self.htree_hop(level), self.interconnect.horizontal_scale
        return LinkCost(h.latency_ns * s, h.pj_per_bit * s, h.width_bits)

    def vertical_hop(self, level: int) -> LinkCost:
        leaf, s = self.htree_hop(self.htree_depth), self.interconnect.vertical_scale
        width = self.htree.root_width_bits if level == 0 else self.htree_width(level)
        return LinkCost(leaf.latency_ns * s, leaf.pj_per_bit * s, width)

    def wire_hop(self, wire: Wire) -> LinkCost:
        return LinkCost(wire.latency_ns, wire.pj_per_bit, wire.width_bits)

    # ---- host -------------------------------------------------------------------------------
    def _host_ns(self, cycles: float) -> float:
        return cycles / (self.host.cores * self.host.frequency_ghz)

    @property
    def host_update_ns_per_element(self) -> float:
        return self._host_ns(self.host.update_cycles_per_element)

    @property
    def host_loss_ns_per_element(self) -> float:
        return self._host_ns(self.host.loss_cycles_per_element)

    @property
    def host_update_pj_per_element(self) -> float:
        return self.host.tdp_w * self.host_update_ns_per_element * 1e3  # W x ns = nJ

    @property
    def host_loss_pj_per_element(self) -> float:
        return self.host.tdp_w * self.host_loss_ns_per_element * 1e3


# ---- loading --------------------------------------------------------------------------------

def _section_types() -> dict[str, type]:
    return get_type_hints(Hardware)


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Check one TOML value against its field's type; ints are accepted where floats are."""
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_VALUE:
            raise LerganError(f"{where}: {str(value)[:24]} is out of range (at most {MAX_VALUE:g})")
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(float(value)) or abs(value) > MAX_VALUE:
            raise LerganError(f"{where}: {value} is not a finite number up to {MAX_VALUE:g}")
        return float(value)
    if hint == tuple[str, ...] and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = {int: "an integer", float: "a number"}.get(hint, "a list of strings")
    raise LerganError(f"{where}: expected {expected}, got {type(value).__name__} {value!r}")


def _suggest(name: str, options: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def _merge(base: dict[str, dict[str, Any]], user: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """Overlay a user TOML onto the defaults, rejecting keys the schema does not know."""
    merged = {section: dict(values) for section, values in base.items()}
    sections = _section_types()
    for section, values in user.items():
        if section not in sections:
            raise LerganError(f"{path}: {section}: unknown section{_suggest(section, list(sections), '')}")
        if not isinstance(values, dict):
            raise LerganError(f"{path}: {section}: expected a table [{section}], got {type(values).__name__}")
        known = [f.name for f in fields(sections[section])]
        for key, value in values.items():
            if key not in known:
                raise LerganError(f"{path}: {section}.{key}: unknown key{_suggest(key, known, section + '.')}")
            merged.setdefault(section, {})[key] = value
    return merged


def _build(raw: dict[str, dict[str, Any]], path: str) -> Hardware:
    parts = {}
    for section, cls in _section_types().items():
        hints = get_type_hints(cls)
        values = raw.get(section, {})
        missing = [f.name for f in fields(cls) if f.name not in values]
        if missing:
            raise LerganError(f"{path}: {section}.{missing[0]}: missing")
        parts[section] = cls(**{k: _convert(v, hints[k], f"{path}: {section}.{k}") for k, v in values.items()})
    return Hardware(**parts)


def _read_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except ValueError as e:  # TOMLDecodeError, or an integer past Python's 4,300 digits
        msg = str(e)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", msg)
        if m:
            raise LerganError(f"{path}:{m[1]}:{m[2]}: TOML syntax error: {msg[:m.start()]}") from None
        raise LerganError(f"{path}: TOML syntax error: {msg}") from None


def _defaults() -> tuple[str, dict[str, Any]]:
    res = resources.files("lergan_cc.targets") / DEFAULTS
    return str(res), _read_toml(str(res), res.read_text(encoding="utf-8"))


def hardware_from_flat(flat: dict[str, Any], where: str) -> Hardware:
    """The description from ``section.key`` values (a program's ``hw`` line), every key required, validated."""
    raw: dict[str, dict[str, Any]] = {}
    for section, cls in _section_types().items():
        for f in fields(cls):
            key = f"{section}.{f.name}"
            if key not in flat:
                raise LerganError(f"{where}: missing '{key}' (the cost model needs the whole description)")
            value = flat[key]
            raw.setdefault(section, {})[f.name] = list(value) if isinstance(value, (list, tuple)) else value
    hw = _build(raw, where)
    validate(hw, where)
    return hw


def load_hw(path: str | None = None, overrides: dict[str, Any] | None = None, where: str = "overrides") -> Hardware:
    """The packaged defaults, overridden by the TOML at ``path`` (any subset of keys), validated.

    ``overrides`` (a parsed TOML overlay, ``{section: {key: value}}``) is merged last and problems are
    blamed on ``where``: how a sweep derives and checks each point's hardware without writing a file.
    """
    default_path, raw = _defaults()
    blame = default_path
    if path is not None:
        if os.path.isdir(path):
            raise LerganError(f"{path}: cannot read: is a directory")
        if not os.path.exists(path):
            raise LerganError(f"{path}: no such file")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise LerganError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
        raw = _merge(raw, _read_toml(path, text), path)
        blame = path
    if overrides is not None:
        raw = _merge(raw, overrides, where)
        blame = where
    hw = _build(raw, blame)
    validate(hw, blame)
    return hw


# ---- validation: one table of (key path, is-ok, problem) ------------------------------------

def _positive_fields(hw: Hardware) -> list[tuple[str, float]]:
    """Every numeric leaf must be > 0, except the scale factors and costs that may be 0."""
    may_be_zero = {"interconnect.switch_ns", "interconnect.switch_pj", "interconnect.adder_ns",
                   "interconnect.adder_pj_per_add", "bus.latency_ns", "bypass.latency_ns"}
    out = []
    for section in _section_types():
        part = getattr(hw, section)
        for f in fields(part):
            value, key = getattr(part, f.name), f"{section}.{f.name}"
            if isinstance(value, (int, float)) and (value < 0 or (value == 0 and key not in may_be_zero)):
                out.append((key, value))
    return out


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


CHECKS: list[tuple[str, Any, Any]] = [
    ("crossbar.rows", lambda h: max(h.crossbar.rows, h.crossbar.cols) <= MAX_ROWS,
     lambda h: f"{h.crossbar.rows}x{h.crossbar.cols} crossbars: at most {MAX_ROWS} rows and columns"),
    ("precision.input_bits", lambda h: max(h.crossbar.cell_bits, h.crossbar.dac_bits, h.precision.input_bits,
                                           h.precision.weight_bits, h.precision.output_bits) <= MAX_BITS,
     lambda h: f"bit widths above {MAX_BITS}"),
    ("memory.tile_mib", lambda h: h.memory.bank_mib >= h.memory.tile_mib,
     lambda h: f"a bank of {h.memory.bank_mib} MiB holds no tile of {h.memory.tile_mib} MiB"),
    ("memory.tile_mib", lambda h: h.memory.bank_mib % h.memory.tile_mib == 0,
     lambda h: f"{h.memory.tile_mib} MiB tiles do not divide a {h.memory.bank_mib} MiB bank"),
    ("memory.tile_mib", lambda h: _is_pow2(h.tiles_per_bank) and h.tiles_per_bank >= 2,
     lambda h: f"{h.tiles_per_bank} tiles per bank: the H-tree needs a power of two, at least 2"),
    ("memory.bank_mib", lambda h: h.memory.total_mib % h.memory.bank_mib == 0,
     lambda h: f"{h.memory.bank_mib} MiB banks do not divide {h.memory.total_mib} MiB in total"),
    ("memory.total_mib", lambda h: h.banks >= 6,
     lambda h: f"{h.banks} bank(s): the pair of 3DCUs of Fig. 13 needs at least 6"),
    ("memory.total_mib", lambda h: h.banks <= MAX_BANKS, lambda h: f"{h.banks} banks: at most {MAX_BANKS}"),
    ("memory.tile_mib", lambda h: h.tiles_per_bank <= MAX_TILES,
     lambda h: f"{h.tiles_per_bank} tiles per bank: at most {MAX_TILES}"),
    ("memory.sarray_mib", lambda h: h.memory.carray_mib + h.memory.barray_mib + h.memory.sarray_mib
     == h.memory.tile_mib,
     lambda h: f"CArray + BArray + SArray = {h.memory.carray_mib + h.memory.barray_mib + h.memory.sarray_mib}"
     f" MiB differs from memory.tile_mib = {h.memory.tile_mib}"),
    ("crossbar.cell_bits", lambda h: h.precision.weight_bits % h.crossbar.cell_bits == 0,
     lambda h: f"{h.crossbar.cell_bits}-bit cells do not divide {h.precision.weight_bits}-bit weights"),
    ("crossbar.cols", lambda h: h.crossbar.cols % h.cells_per_weight == 0,
     lambda h: f"{h.crossbar.cols} columns are not a multiple of the {h.cells_per_weight} cells of a weight"),
    ("crossbar.dac_bits", lambda h: h.precision.input_bits % h.crossbar.dac_bits == 0,
     lambda h: f"{h.crossbar.dac_bits}-bit DACs do not divide {h.precision.input_bits}-bit inputs"),
    ("precision.weight_bits", lambda h: h.precision.weight_bits % 8 == 0,
     lambda h: f"{h.precision.weight_bits}-bit weights are not whole bytes"),
    ("memory.carray_mib", lambda h: (h.memory.carray_mib * MIB) % max(1, h.crossbar_bytes) == 0
     and h.crossbar.rows * h.crossbar.cols * h.crossbar.cell_bits % 8 == 0,
     lambda h: f"a {h.memory.carray_mib} MiB CArray is not a whole number of "
     f"{h.crossbar.rows}x{h.crossbar.cols}x{h.crossbar.cell_bits}-bit crossbars"),
    ("memory.carray_mib", lambda h: h.crossbars_per_tile <= MAX_CROSSBARS,
     lambda h: f"{h.crossbars_per_tile} crossbars per tile: at most {MAX_CROSSBARS}"),
    ("htree.node_kinds", lambda h: len(h.htree.node_kinds) == h.htree_depth,
     lambda h: f"{len(h.htree.node_kinds)} levels given, {h.tiles_per_bank} tiles need {h.htree_depth}"),
    ("htree.node_kinds", lambda h: set(h.htree.node_kinds) <= set(NODE_KINDS),
     lambda h: f"unknown kind(s) {sorted(set(h.htree.node_kinds) - set(NODE_KINDS))}, expected {NODE_KINDS}"),
    ("htree.root_width_bits", lambda h: h.htree.root_width_bits % (1 << h.htree.node_kinds.count("merging")) == 0,
     lambda h: f"{h.htree.root_width_bits} bits cannot be halved at "
     f"{h.htree.node_kinds.count('merging')} merging levels"),
]


def validate(hw: Hardware, path: str) -> None:
    """Raise the first impossible value as ``path: key.path: problem``."""
    for key, value in _positive_fields(hw):
        raise LerganError(f"{path}: {key}: must be positive, got {value}")
    for key, ok, problem in CHECKS:
        if not ok(hw):
            raise LerganError(f"{path}: {key}: {problem(hw)}")

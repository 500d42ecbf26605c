"""The hardware description: paper defaults, --hw overrides, one-line rejections, derived costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lergan_cc.errors import LerganError
from lergan_cc.targets.hw import load_hw
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli

HW = load_hw(None)


def write(tmp_path: Path, text: str, name: str = "hw.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_are_the_papers_numbers() -> None:
    assert (HW.crossbar.rows, HW.crossbar.cols, HW.crossbar.cell_bits) == (128, 128, 4)
    assert (HW.precision.input_bits, HW.precision.weight_bits, HW.precision.output_bits) == (16, 16, 16)
    m = HW.memory
    assert (m.total_mib, m.bank_mib, m.tile_mib, m.carray_mib, m.barray_mib, m.sarray_mib) == (
        16 * 1024, 2 * 1024, 128, 64, 2, 62)
    assert (HW.bank.read_ns, HW.bank.write_ns, HW.bank.read_pj, HW.bank.write_pj) == (32.8, 41.4, 413.0, 665.0)
    assert (HW.htree.latency_ns, HW.htree.energy_pj) == (29.9, 386.0)
    assert (HW.tile.read_ns, HW.tile.write_ns, HW.tile.read_pj, HW.tile.write_pj) == (2.9, 11.5, 3.3, 34.8)
    assert HW.io.frequency_ghz == 1.6
    assert (HW.host.cores, HW.host.frequency_ghz) == (4, 2.27)
    i = HW.isaac
    assert (i.adc_bits, i.adc_gsps, i.adc_mw_per_ima / i.crossbars_per_ima, i.read_ns_per_slice) == (
        8, 1.28, 2.0, 100.0)


def test_derived_capacities() -> None:
    assert HW.cells_per_weight == 4 and HW.weight_columns_per_crossbar == 32
    assert HW.bytes_per_value == 2 and HW.crossbar_bytes == 8192
    assert HW.crossbars_per_carray == HW.crossbars_per_tile == 8192
    assert HW.tiles_per_bank == 16 and HW.crossbars_per_bank == 16 * 8192
    assert HW.banks == 8 and HW.htree_depth == 4


def test_mmv_cost_is_isaac_scaled_to_4_bit_cells() -> None:
    assert HW.adc_bits == 10  # 128 x 15 = 1920 -> 11 bits, one saved by ISAAC's encoding
    mmv = HW.mmv
    assert mmv.latency_ns == HW.t_m_ns == 16 * 100.0
    assert mmv.adc_pj == pytest.approx(2.0 * 4 * 1600)  # 2 mW x 2^(10-8), for 1.6 us
    assert mmv.dac_pj == pytest.approx(0.5 * 1600) and mmv.array_pj == pytest.approx(0.3 * 1600)
    assert mmv.energy_pj == pytest.approx(14122.0)


def test_isaac_own_cells_reproduce_isaac_adc() -> None:
    """The ADC rule gives ISAAC's 8 bits for ISAAC's 2-bit cells, so the scaling starts from its design."""
    hw = load_hw(None)
    assert type(hw)(**{**hw.__dict__, "crossbar": type(hw.crossbar)(128, 128, 2, 1)}).adc_bits == 8


def test_htree_split_per_level_sums_to_table_iv() -> None:
    hops = [HW.htree_hop(level) for level in range(1, HW.htree_depth + 1)]
    assert sum(h.latency_ns for h in hops) == pytest.approx(29.9)
    assert sum(h.pj_per_bit for h in hops) * HW.htree.root_width_bits == pytest.approx(386.0)
    assert [h.latency_ns / 29.9 for h in hops] == pytest.approx([1 / 3, 1 / 3, 1 / 6, 1 / 6])
    assert [h.width_bits for h in hops] == [256, 128, 128, 128]


def test_t_t_is_tile_read_two_leaf_hops_cycle_write() -> None:
    assert HW.t_t_ns == pytest.approx(2.9 + 2 * 29.9 / 6 + 0.625 + 11.5)


def test_host_costs() -> None:
    assert HW.host_update_ns_per_element == pytest.approx(1 / (4 * 2.27))
    assert HW.host_loss_pj_per_element == pytest.approx(80.0 * 40 / (4 * 2.27) * 1e3)


def test_override_a_subset(tmp_path: Path) -> None:
    hw = load_hw(write(tmp_path, "[crossbar]\ncell_bits = 2\n[bank]\nread_ns = 30\n"))
    assert hw.crossbar.cell_bits == 2 and hw.crossbar.rows == 128
    assert hw.bank.read_ns == 30.0 and isinstance(hw.bank.read_ns, float) and hw.bank.write_ns == 41.4
    assert hw.weight_columns_per_crossbar == 16 and hw.adc_bits == 8
    assert hw.mmv.adc_pj == pytest.approx(2.0 * 1600)


def test_empty_override_is_the_defaults(tmp_path: Path) -> None:
    assert load_hw(write(tmp_path, "")) == HW


@pytest.mark.parametrize(("text", "needles"), [
    ("[crossbar]\nrowz = 64\n", ["crossbar.rowz", "unknown key", "did you mean 'crossbar.rows'"]),
    ("[crosbar]\nrows = 64\n", ["crosbar", "unknown section", "did you mean 'crossbar'"]),
    ("[crossbar]\nrows = 64.5\n", ["crossbar.rows", "expected an integer", "float"]),
    ("[bank]\nread_ns = \"fast\"\n", ["bank.read_ns", "expected a number"]),
    ("[bank]\nread_ns = true\n", ["bank.read_ns", "expected a number"]),
    ("[htree]\nnode_kinds = [1, 2]\n", ["htree.node_kinds", "expected a list of strings"]),
    ("crossbar = 3\n", ["crossbar", "expected a table"]),
    ("[crossbar]\nrows = 0\n", ["crossbar.rows", "must be positive"]),
    ("[bank]\nwrite_pj = -1\n", ["bank.write_pj", "must be positive"]),
    ("[memory]\nbank_mib = 64\ntotal_mib = 512\n", ["memory.tile_mib", "holds no tile"]),
    ("[memory]\nsarray_mib = 60\n", ["memory.sarray_mib", "CArray + BArray + SArray = 126", "128"]),
    ("[crossbar]\ncell_bits = 3\n", ["crossbar.cell_bits", "do not divide 16-bit weights"]),
    ("[crossbar]\ncols = 126\n", ["crossbar.cols", "not a multiple of the 4 cells"]),
    ("[crossbar]\ndac_bits = 3\n", ["crossbar.dac_bits", "do not divide"]),
    ("[memory]\ntile_mib = 256\ncarray_mib = 128\nsarray_mib = 126\nbank_mib = 768\ntotal_mib = 6144\n",
     ["memory.tile_mib", "power of two"]),
    ("[memory]\ntotal_mib = 4096\n", ["memory.total_mib", "needs at least 6"]),
    ("[htree]\nnode_kinds = [\"merging\"]\n", ["htree.node_kinds", "need 4"]),
    ("[htree]\nnode_kinds = [\"merging\", \"merging\", \"merging\", \"splitting\"]\n",
     ["htree.node_kinds", "splitting"]),
])
def test_rejections_are_one_line_naming_file_and_key(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LerganError) as info:
        load_hw(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(path)
    for needle in needles:
        assert needle in message, message


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[crossbar]\nrows = 128\ncols == 4\n")
    with pytest.raises(LerganError, match=rf"^{path}:3:\d+: TOML syntax error: ") as info:
        load_hw(path)
    assert "\n" not in str(info.value) and "(at line" not in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(LerganError, match="cannot read"):
        load_hw(str(tmp_path))


@given(st.sampled_from([1, 2, 4, 8, 16]), st.sampled_from([64, 128, 256]), st.sampled_from([64, 128, 256]))
def test_capacity_identities(cell_bits: int, rows: int, cols: int) -> None:
    """Crossbars x crossbar bytes = the CArray; weights per crossbar = rows x cols / cells per weight."""
    hw = type(HW)(**{**HW.__dict__, "crossbar": type(HW.crossbar)(rows, cols, cell_bits, 1)})
    assert hw.crossbars_per_carray * hw.crossbar_bytes == hw.memory.carray_mib << 20
    assert hw.weights_per_crossbar * hw.cells_per_weight == rows * cols
    assert hw.crossbars_per_bank == hw.tiles_per_bank * hw.crossbars_per_tile
    assert hw.mmv.energy_pj > 0 and hw.adc_bits >= 1


CLI_CASES = {
    "unknown-key": ("[tile]\nread_nz = 1\n", ["tile.read_nz", "did you mean 'tile.read_ns'"]),
    "syntax": ("[tile\n", ["TOML syntax error"]),
    "impossible": ("[memory]\ncarray_mib = 0\n", ["memory.carray_mib", "must be positive"]),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_lerganc_rejects_bad_hw(tmp_path: Path, case: str) -> None:
    text, needles = CLI_CASES[case]
    bad = write(tmp_path, text, "bad.toml")
    proc = run_cli("lerganc", EXAMPLES / "dcgan.lergan", "--hw", bad, "--stop-after", "import", "--emit", "ir")
    assert_one_line_error(proc, "bad.toml", *needles)

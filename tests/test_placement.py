"""place-3d / place-htree: Fig. 13 banks, capacity, no shared crossbar, vertical alignment; the CLI."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from lergan_cc.ir.attrs import Copy, Placement, PlacementSummary, Replicas
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.ir.verifier import VerifyError, verify
from lergan_cc.mapping.matrices import matrices, matrix_ops
from lergan_cc.options import REPLICAS
from lergan_cc.targets.geometry import PHASE_BANK, build_topology, hop_counts
from lergan_cc.targets.hw import load_hw
from tests.test_replicate import BENCHMARKS, EXAMPLES, run

HW = load_hw(None)
TARGETS = ("lergan-3d", "htree-2d")
DCGAN = str(EXAMPLES / "dcgan.lergan")


def tiles_of(op: Op) -> list[str]:
    return list(dict.fromkeys(c.tile for c in op.need(Placement).copies))


def check_layout(g: Graph) -> None:
    """Every copy complete; no crossbar twice; no tile or bank over capacity; ops in their Fig. 13 bank."""
    used: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for op in matrix_ops(g):
        place = op.need(Placement).to_value()
        assert place["bank"] == PHASE_BANK[op.phase]
        covered: dict[tuple[int, int], int] = defaultdict(int)
        for c in place["copies"]:
            assert c["tile"].startswith(place["bank"] + ".T")
            assert c["crossbars"] == c["row_slices"] * c["col_slices"]
            assert c["crossbar"] >= 0 and c["crossbar"] + c["crossbars"] <= HW.crossbars_per_tile
            used[c["tile"]].append((c["crossbar"], c["crossbar"] + c["crossbars"]))
            covered[(c["kind"], c["replica"])] += c["row_slices"]
        for m, n in zip(matrices(op), op.need(Replicas).to_value()["per_kind"], strict=True):
            for r in range(n):
                assert covered[(m.kind, r)] == HW.matrix_slices(m.shape)[0], (op.name, m.kind, r)
    per_bank: dict[str, int] = defaultdict(int)
    for tile, ranges in used.items():
        ranges.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges)), f"{tile}: a crossbar holds two matrices"
        per_bank[tile.split(".")[0]] += sum(b - a for a, b in ranges)
    assert all(n <= HW.crossbars_per_bank for n in per_bank.values())
    assert g.need(PlacementSummary).to_value()["crossbars_used"] == sum(per_bank.values())
    assert g.need(PlacementSummary).to_value()["tiles_used"] == len(used)


@pytest.mark.parametrize("model", BENCHMARKS)
def test_layout_property(model: str) -> None:
    for degree in REPLICAS:
        for target in TARGETS:
            g = run(model, degree, target)
            check_layout(g)
            assert g.need(PlacementSummary).to_value()["target"] == target


def test_dcgan_phases_on_fig13_banks_and_growth() -> None:
    for target in TARGETS:
        used = []
        for degree in REPLICAS:
            meta = run("dcgan", degree, target).need(PlacementSummary).to_value()
            assert meta["phases"] == {p: {"banks": [PHASE_BANK[p]]} for p in
                                      ("G_fwd", "G_wgrad", "G_err", "D_fwd", "D_wgrad", "D_err")}
            used.append(meta["crossbars_used"])
        assert used == sorted(used) and used[0] < used[-1], (target, used)


def parts(g: Graph, side: str) -> dict[str, dict[str, list[str]]]:
    """layer -> phase -> tiles, for one network."""
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for op in matrix_ops(g):
        if op.phase.startswith(side):
            out[op.layer][op.phase] = tiles_of(op)
    return out


@pytest.mark.parametrize("degree", REPLICAS)
@pytest.mark.parametrize("model", ["dcgan", "3dgan", "discogan_4pairs"])
def test_generator_parts_are_vertically_aligned(model: str, degree: str) -> None:
    """G_fwd -> G_wgrad and G_err -> G_wgrad: one vertical hop, nothing else; G_fwd -> G_err: two."""
    g = run(model, degree, "lergan-3d")
    topo = build_topology(HW, "lergan-3d")
    for side, (fwd, wgrad, err) in {"G": ("G_fwd", "G_wgrad", "G_err"), "D": ("D_fwd", "D_wgrad", "D_err")}.items():
        for layer, by_phase in parts(g, side).items():
            if not {fwd, wgrad} <= by_phase.keys():
                continue
            first = {p: tiles[0] for p, tiles in by_phase.items()}
            pairs = [(fwd, wgrad, 1)] + ([(err, wgrad, 1), (fwd, err, 2)] if err in by_phase else [])
            for a, b, hops in pairs:
                counts = hop_counts(topo.route(first[a], first[b]))
                assert counts == {"htree": 0, "horizontal": 0, "vertical": hops, "bypass": 0, "bus": 0}, \
                    (layer, a, b, first)
            # the smaller parts are spread over the largest part's tiles (Fig. 14 (a))
            index = {p: [int(t.split(".T")[1]) for t in tiles] for p, tiles in by_phase.items()}
            biggest = max(index.values(), key=len)
            assert all(min(biggest) <= i <= max(biggest) for ix in index.values() for i in ix), (layer, index)


def test_htree_has_no_vertical_route() -> None:
    g = run("dcgan", "low", "htree-2d")
    topo = build_topology(HW, "htree-2d")
    by = parts(g, "G")["G2"]
    counts = hop_counts(topo.route(by["G_fwd"][0], by["G_wgrad"][0], mode="Smode"))
    assert counts["vertical"] == 0 and counts["bus"] == 2


def test_entries_split_by_row_slices_across_tiles() -> None:
    """A copy that crosses a tile boundary is listed as consecutive row-slice ranges."""
    g = run("dcgan", "high", "htree-2d")
    for op in matrix_ops(g):
        by_copy: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for c in op.need(Placement).to_value()["copies"]:
            by_copy[(c["kind"], c["replica"])].append(c)
        for entries in by_copy.values():
            starts = [c["row_start"] for c in entries]
            assert starts[0] == 0
            assert all(a["row_start"] + a["row_slices"] == b["row_start"] for a, b in itertools.pairwise(entries))


def lerganc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lergan_cc.cli.lerganc", *args], capture_output=True, text=True)


def test_cli_emit_placement_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    proc = lerganc(DCGAN, "--emit", "placement", "--replica", "none", "--plot-placement", str(png))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"phases", "layers", "crossbars_used"} <= data.keys()
    assert data["phases"]["G_fwd"] == {"banks": ["B1"]} and data["phases"]["D_err"] == {"banks": ["B6"]}
    for layer in data["layers"]:
        assert {"layer", "phase", "kinds"} <= layer.keys()
        for k in layer["kinds"]:
            assert {"kind", "class", "replicas", "tiles", "crossbars"} <= k.keys() and k["replicas"] == 1
    assert sum(layer["crossbars"] for layer in data["layers"]) == data["crossbars_used"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_capacity_error_is_one_line(tmp_path: Path) -> None:
    hw = tmp_path / "tiny.toml"
    hw.write_text("[memory]\ntotal_mib = 512\nbank_mib = 64\ntile_mib = 4\ncarray_mib = 1\n"
                  "barray_mib = 1\nsarray_mib = 2\n")
    out = tmp_path / "out.json"
    proc = lerganc(DCGAN, "--emit", "placement", "--hw", str(hw), "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "capacity exceeded: phase G_fwd" in lines[0] and "crossbars short" in lines[0]
    assert "--replica" in lines[0] and "--hw" in lines[0]
    assert not out.exists()


def test_cli_plot_needs_placement(tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    proc = lerganc(DCGAN, "--emit", "ir", "--stop-after", "zfdr", "--plot-placement", str(png))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "--plot-placement" in proc.stderr and not png.exists()


def _broken(g: Graph, change: Callable[[tuple[Copy, ...]], tuple[Copy, ...]]) -> Graph:
    """``g`` with the copies of its first matrix op with more than one row slice changed by ``change``."""
    g = copy.deepcopy(g)
    op = next(op for op in matrix_ops(g) if any(c.row_slices > 1 for c in op.need(Placement).copies))
    place = op.need(Placement)
    g.update(op, dataclasses.replace(place, copies=change(place.copies)))
    return g


def _first(change: Callable[[Copy], Copy]) -> Callable[[tuple[Copy, ...]], tuple[Copy, ...]]:
    def apply(copies: tuple[Copy, ...]) -> tuple[Copy, ...]:
        i = next(i for i, c in enumerate(copies) if c.row_slices > 1)
        return (*copies[:i], change(copies[i]), *copies[i + 1:])
    return apply


BROKEN_PLACEMENTS = {  # what the verifier must say of each way a copy can be wrong
    "does not exist": _first(lambda c: dataclasses.replace(c, replica=99)),
    "is not in a bank of phase": _first(lambda c: dataclasses.replace(c, tile="B9.T0")),
    "crossbars are not": _first(lambda c: dataclasses.replace(c, crossbars=c.crossbars + 1)),
    r"do not exist \(": _first(lambda c: dataclasses.replace(c, crossbar=HW.crossbars_per_tile)),
    r"of B\d\.T\d+ do not exist": _first(lambda c: dataclasses.replace(c, tile=f"{c.bank}.T{HW.tiles_per_bank}")),
    "crossbars wide": _first(lambda c: dataclasses.replace(c, col_slices=c.col_slices + 1,
                                                           crossbars=c.row_slices * (c.col_slices + 1))),
    "row slices$": _first(lambda c: dataclasses.replace(c, row_slices=c.row_slices - 1,
                                                        crossbars=(c.row_slices - 1) * c.col_slices)),
    "is not placed": lambda copies: tuple(c for c in copies if (c.kind, c.replica) != (copies[0].kind, 0)),
}


@pytest.mark.parametrize("target", TARGETS)
def test_the_verifier_finds_every_broken_placement(target: str) -> None:
    g = run("dcgan", "middle", target)
    verify(g, HW)
    for message, change in BROKEN_PLACEMENTS.items():
        with pytest.raises(VerifyError, match=message):
            verify(_broken(g, change), HW)


@pytest.mark.parametrize("target", TARGETS)
def test_a_placed_piece_keeps_the_bank_and_tile_its_name_says(target: str) -> None:
    """The placers hand their pieces the bank and tile index they know (Copy.on_tile): the same values a piece
    read back from its text has."""
    g = run("cgan", "low", target)
    for op in matrix_ops(g):
        for c in op.need(Placement).copies:
            parsed = Copy(c.kind, c.replica, c.tile, c.crossbar, c.crossbars, c.row_start, c.row_slices, c.col_slices,
                          c.shard)
            assert (c.bank, c.tile_index) == (parsed.bank, parsed.tile_index) and c == parsed

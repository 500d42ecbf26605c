"""Golden numbers of DESIGN §5 (the paper's Sec III-A / IV-A examples) and structural properties of the kinds."""

from __future__ import annotations

import itertools
import math

import pytest

from lergan_cc.zerofree import analyze, default_same_pads, deform, make_geometry, tconv_pads_from_output_shape, zfdr
from lergan_cc.zerofree.normal import normal_reshape

G2 = make_geometry("tconv", (4, 4), 5, stride=2, pads=2, output_padding=1, in_channels=1024, out_channels=512)
D1_WGRAD = make_geometry("wconv", (64, 64), 5, stride=2, pads=2, in_channels=3, out_channels=128)
DCGAN_G = [(1024, 512, 4), (512, 256, 8), (256, 128, 16), (128, 3, 32)]


def test_g2_zero_insertion() -> None:
    assert G2.output_size == (8, 8)
    a = analyze(G2)
    assert a.zero_inserted_inputs == 147456
    assert a.useful_inputs == 16384
    assert a.macs_zero_inserted_per_output_channel == 1638400
    assert a.macs_useful_per_output_channel == 295936
    assert a.macs_zero_inserted == 1638400 * 512 and a.macs_useful == 295936 * 512
    assert round(a.efficiency, 4) == 0.1806
    assert a.zeros == 128 * 1024  # Eq 7 with P_w = 2P = 4: (4 + 4 + 4)^2 - 16 per channel


def test_g2_zfdr_kinds() -> None:
    st = zfdr(G2).stats()
    assert (st.kinds, st.corner, st.edge, st.inside) == (25, 9, 12, 4)
    assert st.max_reuse == st.rounds == 9 and st.rounds_without == 64
    assert st.macs == analyze(G2).macs_useful
    assert st.stored_matrix_values == 100 * 1024 * 512  # sum of tap-set sizes (2+2+3+2+1)^2 = 100 per (c, m)
    assert st.stored_matrix_values_normal == 25 * 1024 * 512
    assert sorted(k.reuse for k in zfdr(G2).kinds if k.cls == "Inside") == [4, 6, 6, 9]


def test_dcgan_generator_sarray_ratio() -> None:
    zi = useful = 0
    for cin, cout, size in DCGAN_G:
        pb, pe, op = default_same_pads("tconv", size, 5, 2)
        assert (pb, pe, op) == (2, 2, 1)
        a = analyze(make_geometry("tconv", (size, size), 5, stride=2, pads=2, output_padding=1,
                                  in_channels=cin, out_channels=cout))
        zi, useful = zi + a.zero_inserted_inputs, useful + a.useful_inputs
    assert round(zi / useful, 2) == 5.19


def test_d1_wgrad_kinds() -> None:
    assert D1_WGRAD.output_size == (32, 32)
    plan = zfdr(D1_WGRAD)
    st = plan.stats()
    assert (st.kinds, st.corner, st.edge, st.inside) == (9, 4, 4, 1)
    assert [k.reuse for k in plan.kinds if k.cls == "Inside"] == [4]
    assert st.rounds_without == 25 and st.macs == analyze(D1_WGRAD).macs_useful


def test_d1_wgrad_eq10() -> None:
    # Eq 9: N_iz = (S-1)(O-1) + R = 31 + 1; Eq 10 zeros: (32+32)^2 - 32^2 + (64+4)^2 - 64^2 per map
    a = analyze(D1_WGRAD)
    assert a.zeros == 128 * (64 * 64 - 32 * 32) + 3 * (68 * 68 - 64 * 64)


@pytest.mark.parametrize("geom", [G2, D1_WGRAD, G2.weight_gradient(), D1_WGRAD.forward()], ids=str)
def test_kinds_partition_result_positions(geom) -> None:
    """Rectangles expanded: every result position is covered exactly once (by a kind or as empty)."""
    for plan in (zfdr(geom), deform(geom)):
        seen: list[tuple[int, ...]] = []
        for kind in plan.kinds:
            pos = list(kind.positions())
            assert len(pos) == kind.reuse
            seen += pos
        for box in plan.empty:
            seen += list(itertools.product(*(p.positions() for p in box)))
        assert sorted(seen) == list(itertools.product(*(range(n) for n in geom.result_size)))


def test_deform_and_normal_macs() -> None:
    a = analyze(G2)
    d = deform(G2)
    assert len(d.kinds) == 4 and {k.cls for k in d.kinds} == {"Polyphase"}
    assert a.macs_useful < d.macs < a.macs_zero_inserted
    assert d.macs == 512 * 1024 * (3 + 2) ** 2 * 16  # every output multiplies its full residue class
    assert normal_reshape(G2).macs == a.macs_zero_inserted


def test_empty_positions_kernel_smaller_than_stride() -> None:
    g = make_geometry("tconv", (3,), 1, stride=3, output_padding=2)
    plan = zfdr(g)
    assert len(plan.kinds) == 1 and plan.kinds[0].reuse == 3
    assert sum(math.prod(p.count for p in box) for box in plan.empty) == g.output_size[0] - 3


def test_pads_from_output_shape() -> None:
    assert tconv_pads_from_output_shape((4, 4), (5, 5), (2, 2), (8, 8), output_padding=(1, 1)) == (2, 2, 2, 2)
    assert tconv_pads_from_output_shape((3,), (4,), (2,), (7,), auto_pad="SAME_UPPER") == (0, 1)
    assert tconv_pads_from_output_shape((3,), (4,), (2,), (7,), auto_pad="SAME_LOWER") == (1, 0)

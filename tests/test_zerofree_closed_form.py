"""The paper's closed forms (Eqs 11-13, W-CONV-S) against the enumeration: where they agree, and where not.

docs/zero-free.md explains every domain boundary asserted here.
"""

from __future__ import annotations

import pytest

from lergan_cc.zerofree import GeometryError, default_same_pads, make_geometry, zfdr
from lergan_cc.zerofree.closed_form import tconv_closed_form, tconv_paper_params, wconv_s_closed_form


def _counts(plan) -> tuple[int, int, int]:
    st = plan.stats()
    return st.corner, st.edge, st.inside


def _tconv_grid():
    for s in range(1, 5):
        for k in range(s, 9):
            for pad in range(0, k - s + 1):           # P = K - P' - 1 >= S - 1
                for op in range(0, min(pad, s - 1) + 1):  # no output position beyond every input
                    for i in range(1, 10):
                        yield i, k, s, pad, op


def test_tconv_closed_form_grid() -> None:
    """In the domain P >= S'-1, R <= P': exact iff I >= ceil(K/S); over-count otherwise."""
    agree = over = 0
    for i, k, s, pad, op in _tconv_grid():
        cf = tconv_closed_form(i, k, s, pad, op, rank=2)
        assert (cf.corner, cf.edge, cf.inside) == (cf.corner_2d, cf.edge_2d, cf.inside_2d)
        try:
            plan = zfdr(make_geometry("tconv", (i, i), k, stride=s, pads=pad, output_padding=op))
        except GeometryError:
            continue
        got = _counts(plan)
        if i >= -(-k // s):
            assert got == (cf.corner, cf.edge, cf.inside), (i, k, s, pad, op)
            for kind in plan.kinds:
                allowed = {"Corner": {1}, "Edge": cf.edge_reuse, "Inside": cf.inside_reuse}[kind.cls]
                assert kind.reuse in allowed, (i, k, s, pad, op, kind)
            agree += 1
        else:
            assert sum(got) < cf.kinds, (i, k, s, pad, op)
            over += 1
    assert agree > 1000 and over > 100


@pytest.mark.parametrize("rank", [1, 3])
def test_tconv_closed_form_product_generalisation(rank: int) -> None:
    for i, k, s, pad, op in _tconv_grid():
        if i > 5 or i < -(-k // s) or s * (i - 1) + k - 2 * pad + op < 1:
            continue
        cf = tconv_closed_form(i, k, s, pad, op, rank=rank)
        got = _counts(zfdr(make_geometry("tconv", (i,) * rank, k, stride=s, pads=pad, output_padding=op)))
        assert got == (cf.corner, cf.edge, cf.inside)


@pytest.mark.parametrize(("i", "k", "s", "pad", "op", "why"), [
    (3, 2, 2, 0, 1, "output_padding > P': the last output has no tap, the paper counts it as a Corner"),
    (3, 3, 3, 1, 0, "P < S'-1 (P' > K-S): Eq 11's LL leaves 2 phantom border kinds; every class is 1 tap"),
    (3, 1, 2, 0, 0, "K < S: half of the residue classes are empty, the paper counts S'^2 Inside kinds"),
    (1, 5, 2, 2, 1, "I < ceil(K/S): no position sees a full class, still S'^2 Inside kinds counted"),
])
def test_tconv_closed_form_documented_disagreements(i: int, k: int, s: int, pad: int, op: int, why: str) -> None:
    cf = tconv_closed_form(i, k, s, pad, op)
    got = _counts(zfdr(make_geometry("tconv", (i, i), k, stride=s, pads=pad, output_padding=op)))
    assert got != (cf.corner, cf.edge, cf.inside), why


def test_wconv_s_closed_form_grid() -> None:
    """Counts and Inside reuse exact iff R <= P, K + R - 2P >= 1 and O > ceil(P/S);
    Corner/Edge reuse as the paper says iff moreover S == 1 or P <= 1."""
    seen = {True: 0, False: 0}
    for s in range(1, 5):
        for k in range(1, 9):
            for pad in range(0, k):
                for i in range(1, 14):
                    if i + 2 * pad < k:
                        continue
                    cf = wconv_s_closed_form(i, k, s, pad)
                    plan = zfdr(make_geometry("wconv", (i, i), k, stride=s, pads=pad))
                    o, r = plan.geometry.output_size[0], (i + 2 * pad - k) % s
                    inside = [kd.reuse for kd in plan.kinds if kd.cls == "Inside"]
                    exact = _counts(plan) == (cf.corner, cf.edge, cf.inside) and inside == [max(cf.inside_reuse)]
                    domain = r <= pad and k + r - 2 * pad >= 1 and o > -(-pad // s)
                    assert exact == domain, (i, k, s, pad)
                    seen[domain] += 1
                    if domain:
                        border_reuse_ok = all(kd.reuse == 1 for kd in plan.kinds if kd.cls == "Corner") and all(
                            kd.reuse in cf.edge_reuse for kd in plan.kinds if kd.cls == "Edge")
                        assert border_reuse_ok == (s == 1 or pad <= 1), (i, k, s, pad)
    assert seen[True] > 500 and seen[False] > 500


# Table V (DESIGN §4 default padding). T-CONV layers: (benchmark, rank, K, S, input sizes).
TABLE_V_TCONV = [
    ("DCGAN", 2, 5, 2, (4, 8, 16, 32)),
    ("cGAN", 2, 4, 2, (8, 16, 32)),
    ("3D-GAN", 3, 4, 2, (8, 16, 32)),
    ("ArtGAN-CIFAR-10", 2, 4, 2, (4, 8, 16)),   # 1024t4k1s has asymmetric pads (1, 2): skipped
    ("ArtGAN-CIFAR-10", 2, 3, 1, (32,)),
    ("GPGAN", 2, 4, 2, (4, 8, 16, 32)),
    ("MAGAN-MNIST", 2, 7, 1, (14,)),
    ("MAGAN-MNIST", 2, 4, 2, (14,)),
    ("DiscoGAN-4pairs", 2, 4, 2, (4, 8, 16, 32)),
    ("DiscoGAN-5pairs", 2, 4, 2, (4, 8, 16, 32)),
]
# S-CONV layers whose weight gradient runs W-CONV-S: (benchmark, rank, K, S, input sizes).
TABLE_V_SCONV = [
    ("DCGAN", 2, 5, 2, (64, 32, 16, 8)),
    ("cGAN", 2, 4, 2, (64, 32, 16, 8)),
    ("3D-GAN", 3, 4, 2, (64, 32, 16, 8)),
    ("ArtGAN-CIFAR-10", 2, 4, 2, (32, 16, 8, 4)),
    ("ArtGAN-CIFAR-10", 2, 3, 1, (16,)),
    ("GPGAN", 2, 4, 2, (64, 32, 16, 8)),
    ("DiscoGAN", 2, 4, 2, (64, 32, 16, 8, 4)),
]


@pytest.mark.parametrize(("name", "rank", "k", "s", "sizes"), TABLE_V_TCONV, ids=lambda v: str(v))
def test_table_v_tconv_layers(name: str, rank: int, k: int, s: int, sizes: tuple[int, ...]) -> None:
    for i in sizes:
        pb, pe, op = default_same_pads("tconv", i, k, s)
        assert pb == pe, (name, i)
        g = make_geometry("tconv", (i,) * rank, k, stride=s, pads=pb, output_padding=op)
        assert g.output_size == (i * s,) * rank
        cf = tconv_closed_form(i, k, s, pb, op, rank=rank)
        assert _counts(zfdr(g)) == (cf.corner, cf.edge, cf.inside), (name, i)
        p, r = tconv_paper_params(i, k, s, pb, op)
        assert p >= s - 1 and r == op


def test_artgan_k4s1_is_asymmetric() -> None:
    assert default_same_pads("tconv", 4, 4, 1) == (1, 2, 0)


@pytest.mark.parametrize(("name", "rank", "k", "s", "sizes"), TABLE_V_SCONV, ids=lambda v: str(v))
def test_table_v_wconv_s_layers(name: str, rank: int, k: int, s: int, sizes: tuple[int, ...]) -> None:
    for i in sizes:
        pb, pe, _ = default_same_pads("sconv", i, k, s)
        assert pb == pe, (name, i)
        g = make_geometry("wconv", (i,) * rank, k, stride=s, pads=pb)
        assert g.output_size == (-(-i // s),) * rank
        cf = wconv_s_closed_form(i, k, s, pb, rank=rank)
        plan = zfdr(g)
        assert _counts(plan) == (cf.corner, cf.edge, cf.inside), (name, i)
        per_axis = i - (g.output_size[0] - 1) * s       # the paper's I - (O-1)S
        assert [kd.reuse for kd in plan.kinds if kd.cls == "Inside"] == [per_axis**rank]

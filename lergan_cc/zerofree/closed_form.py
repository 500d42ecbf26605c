"""The paper's closed forms (LerGAN Eqs 11-13 and the W-CONV-S counts), kept as a cross-check only.

They are written for a square layer with symmetric padding, no dilation and a single
``R``; the project's numbers come from :mod:`lergan_cc.zerofree.zfdr`'s enumeration.
Paper notation for a T-CONV: ``I`` input, ``S'`` its stride, ``W`` kernel, ``P'`` the
(ONNX) padding of the T-CONV, ``P = W - P' - 1`` the padding of the zero-inserted
direct convolution, ``R`` the Eq 5 remainder (= ONNX output_padding). For W-CONV-S:
``I`` the forward input, ``S``, ``P`` the forward stride and padding, ``O`` the forward
output, ``R`` the Eq 8 remainder.

Besides the paper's literal 2-D formulas, :class:`ClosedForm` carries the per-axis
quantities they are made of (``border`` kinds, ``interior`` kinds, reuse values), so that
the N-d product generalisation ``corner = B^n``, ``inside = S^n``,
``edge = (B+S)^n - B^n - S^n`` can be compared with the enumeration in 1-D and 3-D too.
docs/zero-free.md lists where and why they disagree with the enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class ClosedForm:
    """Counts predicted by the paper for one layer (``rank`` axes, all alike)."""

    rank: int
    border: int                       # border tap sets per axis
    interior: int                     # interior tap sets per axis
    edge_reuse: frozenset[int]        # paper: possible reuse values of an Edge kind (2-D)
    inside_reuse: frozenset[int]      # paper: possible reuse values of an Inside kind (2-D)
    corner_2d: int                    # the paper's literal 2-D Corner count
    edge_2d: int                      # the paper's literal 2-D Edge count
    inside_2d: int                    # the paper's literal 2-D Inside count
    loop_length: int | None = None    # Eq 11 LL (T-CONV only)

    @property
    def corner(self) -> int:
        return self.border ** self.rank

    @property
    def inside(self) -> int:
        return self.interior ** self.rank

    @property
    def edge(self) -> int:
        return (self.border + self.interior) ** self.rank - self.corner - self.inside

    @property
    def kinds(self) -> int:
        return self.corner + self.edge + self.inside


def tconv_paper_params(i: int, k: int, s: int, pad: int, output_padding: int) -> tuple[int, int]:
    """``(P, R)`` of the paper from an ONNX T-CONV with symmetric ``pad`` (= ``P'``)."""
    o = s * (i - 1) + k - 2 * pad + output_padding
    r = (o + 2 * pad - k) % s            # Eq 5
    return k - pad - 1, r


def loop_length(i: int, s: int, p: int, r: int) -> int:
    """Eq 11."""
    if p >= s - 1:
        return i * s + (s - 1)
    if p + r >= s - 1:
        return i * s
    return i * s - (s - 1)


def tconv_closed_form(i: int, k: int, s: int, pad: int, output_padding: int = 0, rank: int = 2) -> ClosedForm:
    """Eqs 11-13 for a T-CONV with ONNX symmetric ``pad`` and ``output_padding``."""
    p, r = tconv_paper_params(i, k, s, pad, output_padding)
    ll = loop_length(i, s, p, r)
    border = (i - 1) * s + 1 + r + 2 * p - ll                 # Case 1 count is border^2
    r1 = p if p < s - 1 else p - (s - 1)                      # Eq 12
    r2 = (p + r) - (s - 1) if p + r >= s - 1 else p + r       # Eq 13
    q = (ll - k + 1) // s
    return ClosedForm(rank, border, s, frozenset({q, q + 1}), frozenset({q * q, (q + 1) ** 2, q * (q + 1)}),
                      border ** 2, r1 * s * 2 + r2 * s * 2, s * s, ll)


def wconv_s_closed_form(i: int, k: int, s: int, pad: int, rank: int = 2) -> ClosedForm:
    """The W-CONV-S counts of Sec IV-A for a conv with symmetric ``pad``."""
    o = (i + 2 * pad - k) // s + 1
    r = (i + 2 * pad - k) % s             # Eq 8
    a, b = _ceil(pad, s), _ceil(pad - r, s)
    reuse = i - (o - 1) * s
    return ClosedForm(rank, a + b, 1, frozenset({reuse}), frozenset({reuse * reuse}),
                      a * a + b * b + 2 * a * b, 2 * a + 2 * b, 1)

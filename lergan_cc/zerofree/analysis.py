"""Zero-insertion analysis (paper Eqs 5-10; DESIGN §8 ``--emit analysis`` fields).

What a PRIME-like accelerator stores and multiplies when it runs a layer *with* the
inserted and padding zeros, against what is useful. Counts are for the whole layer
(all channels) and one sample; ``*_per_output_channel`` divides MACs by the number of
output channels (the paper's "per kernel" numbers).

Stored operands, per kind (the "input values" of Eqs 7 and 10):

* ``tconv``: the zero-inserted, padded input, ``C * prod(L)`` with per axis
  ``L = s(I-1)+1 + ((K-1)d - pb) + ((K-1)d - pe + op) = O + (K-1)d``.
* ``sconv``: the padded input, ``C * prod(I + pb + pe)``.
* ``wconv`` (Eq 10): the dilated gradient ``M * prod(s(O-1)+1+R)`` (``R`` = the
  forward remainder, appended so that the correlation yields exactly ``K`` taps) plus
  the padded input ``C * prod(I + pb + pe)``.
* ``wconv_t``: the zero-inserted padded input (as for ``tconv``) plus the gradient
  ``M * prod(O)``, which has no zeros.

``useful_inputs`` counts the real data values among the stored ones. MACs with zeros
are those of the one-im2col-matrix mapping (:mod:`lergan_cc.zerofree.normal`), useful
MACs those whose both factors are real (:mod:`lergan_cc.zerofree.zfdr` performs
exactly these).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lergan_cc.zerofree.axis import relations
from lergan_cc.zerofree.geometry import ConvGeometry


@dataclass(frozen=True)
class ZeroInsertion:
    """The DESIGN §8 analysis record of one layer (one sample, all channels)."""

    zero_inserted_inputs: int
    useful_inputs: int
    macs_zero_inserted: int
    macs_useful: int
    out_channels: int

    @property
    def efficiency(self) -> float:
        """Useful / performed MACs of the zero-inserted mapping (0.1806 for DCGAN G2)."""
        return self.macs_useful / self.macs_zero_inserted if self.macs_zero_inserted else 1.0

    @property
    def zeros(self) -> int:
        """Stored zeros (Eq 7 / Eq 10 ``N_zero``, times channels)."""
        return self.zero_inserted_inputs - self.useful_inputs

    @property
    def macs_zero_inserted_per_output_channel(self) -> int:
        return self.macs_zero_inserted // self.out_channels

    @property
    def macs_useful_per_output_channel(self) -> int:
        return self.macs_useful // self.out_channels

    def as_dict(self) -> dict[str, int | float]:
        return {"zero_inserted_inputs": self.zero_inserted_inputs, "useful_inputs": self.useful_inputs,
                "macs_zero_inserted": self.macs_zero_inserted, "macs_useful": self.macs_useful,
                "efficiency": self.efficiency}


def zero_inserted_length(g: ConvGeometry, a: int) -> int:
    """Per-axis length of the zero-inserted, padded input of a transposed kind."""
    return g.output_size[a] + (g.kernel[a] - 1) * g.dilation[a]


def real_in_window(g: ConvGeometry, a: int) -> int:
    """How many real input values of axis ``a`` fall inside the zero-inserted padded window.

    Real value ``i`` sits at ``s*i + (K-1)d - pb``; a pad larger than ``(K-1)d`` crops.
    """
    s, span_1 = g.stride[a], (g.kernel[a] - 1) * g.dilation[a]
    length = zero_inserted_length(g, a)
    return sum(1 for i in range(g.input_size[a]) if 0 <= s * i + span_1 - g.pads[a] < length)


def wconv_remainder(g: ConvGeometry, a: int) -> int:
    """The forward remainder ``R`` of Eq 8: input positions the last window does not reach."""
    n = g.rank
    span = (g.kernel[a] - 1) * g.dilation[a] + 1
    return g.input_size[a] + g.pads[a] + g.pads[a + n] - span - g.stride[a] * (g.output_size[a] - 1)


def dilated_gradient_length(g: ConvGeometry, a: int) -> int:
    """Per-axis length of the dilated ``dy`` of a ``wconv``: ``s(O-1) + 1 + R``."""
    return g.stride[a] * (g.output_size[a] - 1) + 1 + wconv_remainder(g, a)


def useful_macs(g: ConvGeometry) -> int:
    """Multiplications whose both factors are real: channel factor times sum of tap-set sizes.

    The sum over N-d positions of a product of per-axis sizes is the product of the
    per-axis sums.
    """
    per_pos = math.prod(sum(len(r.useful(p)) for p in range(r.n_out)) for r in relations(g))
    return per_pos * g.group * g.in_per_group * g.out_per_group


def analyze(g: ConvGeometry) -> ZeroInsertion:
    """Zero-insertion analysis of one layer (Eqs 5-10 generalised to N-d, groups, dilation)."""
    n, c, m = g.rank, g.in_channels, g.out_channels
    chan = g.group * g.in_per_group * g.out_per_group
    rng = range(n)
    padded_x = c * math.prod(g.input_size[a] + g.pads[a] + g.pads[a + n] for a in rng)
    zi_x = c * math.prod(zero_inserted_length(g, a) for a in rng)
    real_x = c * math.prod(real_in_window(g, a) for a in rng)
    k_n, o_n, i_n = math.prod(g.kernel), math.prod(g.output_size), math.prod(g.input_size)
    if g.kind == "tconv":
        stored, useful, macs = zi_x, real_x, chan * o_n * k_n
    elif g.kind == "sconv":
        stored, useful, macs = padded_x, c * i_n, chan * o_n * k_n
    elif g.kind == "wconv":
        dyd = math.prod(dilated_gradient_length(g, a) for a in rng)
        stored, useful, macs = padded_x + m * dyd, c * i_n + m * o_n, chan * k_n * dyd
    else:
        stored, useful, macs = zi_x + m * o_n, real_x + m * o_n, chan * k_n * o_n
    return ZeroInsertion(stored, useful, macs, useful_macs(g), m)

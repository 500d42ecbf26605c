"""``--precision fixed16``: the crossbars' arithmetic in 16-bit fixed point, and its error against float32.

What the hardware quantises: the weights (or dy) written into the crossbars and the inputs
streamed through the DACs, to ``precision.weight_bits`` / ``input_bits``, and the MMV results
leaving the ADCs and shift-and-add units, to ``output_bits``. Each tensor gets its own
power-of-two scale (dynamic fixed point: the integer bits its largest magnitude needs, the rest
fraction bits). Peripherals (batch norm, activations) and the host stay in float32.

The ADC: a weight is ``weight_bits / cell_bits`` cell slices; an input is streamed one
``dac_bits`` slice at a time; a crossbar column sums at most ``rows`` products of one input slice
and one cell slice. When the ADC (``adc_bits`` plus ISAAC's flipped-weight encoding bit) resolves
that sum exactly — as it does with the derived ``adc_bits`` of ``docs/hardware.md`` — bit slicing
changes nothing and the product of the quantised operands is exact. Otherwise :func:`sliced_matmul`
emulates the slices and drops the low bits the ADC cannot resolve.
"""

from __future__ import annotations

import math

import numpy as np

from lergan_cc.targets.hw import Hardware


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Round to ``bits``-bit signed fixed point with a power-of-two scale fitted to max |x|."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0 or not math.isfinite(peak):
        return x
    scale = 2.0 ** (math.floor(math.log2(peak)) + 1 - (bits - 1))
    top = 2 ** (bits - 1) - 1
    return (np.clip(np.rint(x / scale), -top - 1, top) * scale).astype(np.float32)


def adc_is_exact(hw: Hardware) -> bool:
    return 2 ** (hw.adc_bits + 1) > hw.largest_bitline_sum


def _ints(x: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return np.zeros(x.shape, np.int64), 1.0
    scale = 2.0 ** (math.floor(math.log2(peak)) + 1 - (bits - 1))
    top = 2 ** (bits - 1) - 1
    return np.clip(np.rint(x / scale), -top - 1, top).astype(np.int64), scale


def sliced_matmul(v: np.ndarray, w: np.ndarray, hw: Hardware, adc_bits: int | None = None) -> np.ndarray:
    """``v @ w`` as the crossbars compute it: inputs bit-serial through ``dac_bits`` DACs, weights in
    ``cell_bits`` cells (offset-binary, the offset removed digitally), every crossbar's column sum of
    one slice pair digitised by an ADC of ``adc_bits`` (+1 encoding bit), partial sums shifted and added."""
    xb, pr = hw.crossbar, hw.precision
    adc = hw.adc_bits if adc_bits is None else adc_bits
    vi, sv = _ints(v, pr.input_bits)
    wi, sw = _ints(w, pr.weight_bits)
    offset = 2 ** (pr.weight_bits - 1)
    wu = wi + offset  # unsigned weights in cells
    vu = vi & ((1 << pr.input_bits) - 1)  # two's complement bits, the top one weighs -2^(n-1)
    levels = 2 ** (adc + 1)
    drop = max(0, math.ceil(math.log2(hw.largest_bitline_sum + 1)) - (adc + 1))
    out = np.zeros((*v.shape[:-1], w.shape[-1]), np.float64)
    rows = v.shape[-1]
    for r0 in range(0, rows, xb.rows):
        vs, ws = vu[..., r0:r0 + xb.rows], wu[..., r0:r0 + xb.rows, :]
        for i in range(0, pr.input_bits, xb.dac_bits):
            vb = ((vs >> i) & (2**xb.dac_bits - 1)).astype(np.float64)
            sign = -1.0 if i + xb.dac_bits >= pr.input_bits else 1.0
            for c in range(0, pr.weight_bits, xb.cell_bits):
                wc = ((ws >> c) & (2**xb.cell_bits - 1)).astype(np.float64)
                col = vb @ wc
                col = np.minimum(np.floor(col / 2**drop) * 2**drop, (levels - 1) * 2**drop)
                out += sign * col * 2.0 ** (i + c)
        out -= offset * (vi[..., r0:r0 + xb.rows].astype(np.float64).sum(axis=-1, keepdims=True))
    return (out * sv * sw).astype(np.float32)

"""The geometry of one convolution, in ONNX conventions, independent of the IR.

Everything in :mod:`lergan_cc.zerofree` works on a :class:`ConvGeometry`: spatial
sizes, kernel, stride, pads, output_padding, dilation, group and channels of one
layer, plus its *kind*. The four kinds are the four convolutions of GAN training:

``tconv``
    ONNX ConvTranspose: ``y[o] += x[i] * W[c, m, k]`` for ``o = s*i + d*k - pb``;
    ``O = s(I-1) + (K-1)d + 1 - pb - pe + op``. Weight layout (C, M/g, K...).
``sconv``
    ONNX Conv (ordinary or strided): ``y[o] += x[s*o + d*k - pb] * W[m, c, k]``;
    ``O = floor((I + pb + pe - (K-1)d - 1) / s) + 1``. Weight layout (M, C/g, K...).
``wconv``
    Weight gradient of an ``sconv``: ``dW[m, c, k] = sum_{b,o} dy[b,m,o] x[b,c,s*o + d*k - pb]``.
``wconv_t``
    Weight gradient of a ``tconv``: ``dW[c, m, k] = sum_{b,o,i: o = s*i + d*k - pb} x[b,c,i] dy[b,m,o]``,
    i.e. the correlation of the zero-inserted input with the output gradient.

For the two weight-gradient kinds the geometry is that of the *forward* convolution
(``input_size`` is the spatial size of ``x``, ``output_size`` that of ``dy``); the
quantity they produce is shaped like the forward weight.

Why a separate record and not the IR's ops: the numeric core must be usable by the
compiler passes, by the simulator's functional core and by tests alike, so it does not
import the IR. A pass converts an IR conv op into a ``ConvGeometry`` in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ConvKind = Literal["tconv", "sconv", "wconv", "wconv_t"]
KINDS: tuple[str, ...] = ("tconv", "sconv", "wconv", "wconv_t")


class GeometryError(ValueError):
    """The attributes of a convolution do not fit together."""


def _tuple(v: int | tuple[int, ...] | list[int] | None, n: int, default: int, name: str) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise GeometryError(f"{name} has {len(t)} entries for a {n}-d convolution")
    return t


@dataclass(frozen=True)
class ConvGeometry:
    """One N-d (N = 1..3) convolution of kind ``kind``, ONNX attribute conventions.

    ``pads`` is ONNX order: all begins, then all ends. ``output_padding`` only matters
    for the transposed kinds (``tconv``, ``wconv_t``) and is all zeros otherwise.
    """

    kind: ConvKind
    input_size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pads: tuple[int, ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    group: int
    in_channels: int
    out_channels: int
    output_size: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.input_size)
        if self.kind not in KINDS:
            raise GeometryError(f"unknown convolution kind {self.kind!r}")
        if not 1 <= n <= 3:
            raise GeometryError(f"{n}-d convolution: only 1-d to 3-d are supported")
        for name in ("kernel", "stride", "dilation", "output_padding"):
            if len(getattr(self, name)) != n:
                raise GeometryError(f"{name} has {len(getattr(self, name))} entries for a {n}-d convolution")
        if len(self.pads) != 2 * n:
            raise GeometryError(f"pads has {len(self.pads)} entries, expected {2 * n}")
        if min(self.input_size + self.kernel + self.stride + self.dilation) < 1:
            raise GeometryError("input size, kernel, stride and dilation must be >= 1")
        if min(self.pads) < 0 or min(self.output_padding) < 0:
            raise GeometryError("pads and output_padding must be >= 0")
        if self.group < 1 or self.in_channels % self.group or self.out_channels % self.group:
            raise GeometryError(f"group {self.group} does not divide channels {self.in_channels}->{self.out_channels}")
        if not self.transposed and any(self.output_padding):
            raise GeometryError("output_padding is only meaningful for a transposed convolution")
        out = []
        for a in range(n):
            span = (self.kernel[a] - 1) * self.dilation[a] + 1
            pb, pe = self.pads[a], self.pads[a + n]
            if self.transposed:
                o = self.stride[a] * (self.input_size[a] - 1) + span - pb - pe + self.output_padding[a]
            else:
                o = (self.input_size[a] + pb + pe - span) // self.stride[a] + 1
            if o < 1:
                raise GeometryError(f"axis {a}: output size {o} < 1")
            out.append(o)
        object.__setattr__(self, "output_size", tuple(out))

    # ---- derived attributes -------------------------------------------------
    @property
    def rank(self) -> int:
        return len(self.input_size)

    @property
    def transposed(self) -> bool:
        """True for the kinds whose forward convolution is a ConvTranspose."""
        return self.kind in ("tconv", "wconv_t")

    @property
    def is_wgrad(self) -> bool:
        """True for the weight-gradient kinds (outputs are kernel taps)."""
        return self.kind in ("wconv", "wconv_t")

    @property
    def pads_begin(self) -> tuple[int, ...]:
        return self.pads[: self.rank]

    @property
    def pads_end(self) -> tuple[int, ...]:
        return self.pads[self.rank:]

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.group

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.group

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """ONNX layout: Conv (M, C/g, K...), ConvTranspose (C, M/g, K...)."""
        if self.transposed:
            return (self.in_channels, self.out_per_group, *self.kernel)
        return (self.out_channels, self.in_per_group, *self.kernel)

    @property
    def result_size(self) -> tuple[int, ...]:
        """Spatial extent of what this op produces: the output, or the kernel for a weight gradient."""
        return self.kernel if self.is_wgrad else self.output_size

    def forward(self) -> ConvGeometry:
        """The forward convolution (``sconv`` for ``wconv``, ``tconv`` for ``wconv_t``)."""
        forwards: dict[ConvKind, ConvKind] = {"wconv": "sconv", "wconv_t": "tconv"}
        fwd = forwards.get(self.kind, self.kind)
        return _replace_kind(self, fwd)

    def weight_gradient(self) -> ConvGeometry:
        """The weight gradient of this (forward) convolution."""
        gradients: dict[ConvKind, ConvKind] = {"sconv": "wconv", "tconv": "wconv_t"}
        wk = gradients.get(self.kind, self.kind)
        return _replace_kind(self, wk)


def _replace_kind(g: ConvGeometry, kind: ConvKind) -> ConvGeometry:
    return ConvGeometry(kind, g.input_size, g.kernel, g.stride, g.pads, g.output_padding, g.dilation,
                        g.group, g.in_channels, g.out_channels)


def make_geometry(kind: ConvKind, input_size: tuple[int, ...] | list[int] | int, kernel: tuple[int, ...] | int, *,
                  stride: tuple[int, ...] | int | None = None, pads: tuple[int, ...] | int | None = None,
                  output_padding: tuple[int, ...] | int | None = None,
                  dilation: tuple[int, ...] | int | None = None, group: int = 1,
                  in_channels: int = 1, out_channels: int = 1, rank: int | None = None) -> ConvGeometry:
    """Build a geometry with ONNX defaults (stride 1, pads 0, dilation 1, output_padding 0).

    Scalars broadcast over ``rank`` axes (default: the length of ``input_size``, or 2
    when every argument is a scalar). ``pads`` may be a scalar, ``n`` symmetric values
    or the ONNX ``2n`` list.
    """
    if rank is None:
        rank = next((len(v) for v in (input_size, kernel, stride, dilation)
                     if isinstance(v, (tuple, list))), 2)
    isz = _tuple(input_size, rank, 1, "input_size")
    if pads is None or isinstance(pads, int):
        p = (pads or 0,) * (2 * rank)
    else:
        p = tuple(int(v) for v in pads)
        if len(p) == rank:
            p = p + p
        if len(p) != 2 * rank:
            raise GeometryError(f"pads has {len(p)} entries for a {rank}-d convolution")
    return ConvGeometry(kind, isz, _tuple(kernel, rank, 1, "kernel"), _tuple(stride, rank, 1, "stride"), p,
                        _tuple(output_padding, rank, 0, "output_padding"), _tuple(dilation, rank, 1, "dilation"),
                        group, in_channels, out_channels)


def tconv_pads_from_output_shape(input_size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                                 output_shape: tuple[int, ...], *, dilation: tuple[int, ...] | None = None,
                                 output_padding: tuple[int, ...] | None = None,
                                 auto_pad: str = "NOTSET") -> tuple[int, ...]:
    """ONNX ConvTranspose pads implied by an explicit ``output_shape``.

    ``total = s(I-1) + op + (K-1)d + 1 - output_shape``; ``SAME_UPPER`` puts the odd
    unit at the end, anything else (``SAME_LOWER``, ``NOTSET``) at the beginning, as the
    ONNX spec and ``onnx.reference`` do.
    """
    n = len(input_size)
    d = dilation or (1,) * n
    op = output_padding or (0,) * n
    begin, end = [], []
    for a in range(n):
        total = stride[a] * (input_size[a] - 1) + op[a] + (kernel[a] - 1) * d[a] + 1 - output_shape[a]
        if total < 0:
            raise GeometryError(f"axis {a}: output_shape {output_shape[a]} needs negative padding {total}")
        small, big = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else big)
        end.append(big if auto_pad == "SAME_UPPER" else small)
    return tuple(begin + end)


def default_same_pads(kind: ConvKind, input_size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """DESIGN §4 default ("same") padding for one axis: ``(pad_begin, pad_end, output_padding)``.

    The one implementation of the rule (the DSL's Table V strings use it; docs/dsl.md states it).
    With P' = max(0, ⌈(K−S)/2⌉):

    * T-CONV (``tconv``, ``wconv_t``): O = I·S with symmetric pads P' and output_padding 2P'−(K−S)
      when that is < S, else the asymmetric pads (⌊(K−S)/2⌋, ⌈(K−S)/2⌉) and no output padding.
    * Convolution: O = ⌈I/S⌉ with symmetric pads P' when they give O, else the total
      (O−1)·S+K−I split ⌊·/2⌋ before and ⌈·/2⌉ after.
    """
    half = max(0, -(-(kernel - stride) // 2))
    if kind in ("tconv", "wconv_t"):
        op = 2 * half - (kernel - stride)
        if op < stride:
            return half, half, op
        total = kernel - stride
        return total // 2, total - total // 2, 0
    out = -(-input_size // stride)
    if (input_size + 2 * half - kernel) // stride + 1 == out:
        return half, half, 0
    total = max(0, (out - 1) * stride + kernel - input_size)
    return total // 2, total - total // 2, 0

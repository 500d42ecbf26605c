"""Typed op records of the graph IR.

Every op produces exactly one value, named after the op. Shapes are per sample:
(channels, spatial...) without the batch dimension. What passes attach to an op is a typed,
frozen attribute record (``lergan_cc.ir.attrs``) in ``attached``, keyed by the attribute's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from lergan_cc.ir.attribute import Attr, AttrError

Shape = tuple[int, ...]
A = TypeVar("A", bound=Attr)

PHASES = ("G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad", "fwd")


@dataclass(frozen=True)
class Op:
    """Common fields of every op. Subclasses add their typed attributes."""

    OP: ClassVar[str] = ""
    name: str
    layer: str
    phase: str
    inputs: tuple[str, ...]
    shape: Shape
    attached: Mapping[str, Attr] = field(default_factory=dict, kw_only=True)

    COMMON: ClassVar[tuple[str, ...]] = ("name", "layer", "phase", "inputs", "shape", "attached")

    def attrs(self) -> dict[str, Any]:
        """The op's own typed attributes (not the common fields, not what passes attached)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self.COMMON}

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def get(self, cls: type[A]) -> A | None:
        """The attached attribute of class ``cls``, if a pass attached it."""
        value = self.attached.get(cls.key)
        return value if isinstance(value, cls) else None

    def need(self, cls: type[A]) -> A:
        """The attached attribute of class ``cls``; a one-line error naming the op when it is missing."""
        value = self.get(cls)
        if value is None:
            raise AttrError(f"op '{self.name}' ({self.OP}, layer {self.layer}) has no '{cls.key}' attribute")
        return value

    def attach(self, *attrs: Attr) -> Self:
        """A copy of the op with ``attrs`` attached (replacing any of the same name)."""
        return dataclasses.replace(self, attached={**self.attached, **{a.key: a for a in attrs}})


@dataclass(frozen=True)
class Input(Op):
    """A run-time input of the graph (noise, a real item, an inference input)."""

    OP: ClassVar[str] = "input"


@dataclass(frozen=True)
class Dense(Op):
    """y = x @ W + b with W of shape (in_features, units); ``transposed``: y = x @ W.T (no bias).

    The transposed form is a dense layer's input gradient (D_err, G_err).
    """

    OP: ClassVar[str] = "dense"
    units: int = 0
    weight: str | None = None
    bias: str | None = None
    transposed: bool = False


@dataclass(frozen=True)
class WDense(Op):
    """Weight gradient of a dense layer: inputs (x, dy), output dW = x^T dy (the outer-product form)."""

    OP: ClassVar[str] = "wdense"


@dataclass(frozen=True)
class _Conv(Op):
    """Attributes shared by every convolution kind, in ONNX conventions.

    ``pads`` is (begin_0, ..., begin_n, end_0, ..., end_n) as in ONNX.
    """

    out_channels: int = 0
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    pads: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    group: int = 1
    weight: str | None = None
    bias: str | None = None

    @property
    def rank(self) -> int:
        return len(self.kernel)


@dataclass(frozen=True)
class SConv(_Conv):
    """Ordinary or strided convolution (ONNX Conv)."""

    OP: ClassVar[str] = "sconv"


@dataclass(frozen=True)
class TConv(_Conv):
    """Transposed convolution (ONNX ConvTranspose)."""

    OP: ClassVar[str] = "tconv"
    output_padding: tuple[int, ...] = ()


@dataclass(frozen=True)
class WConv(_Conv):
    """Weight gradient of a convolution: inputs (x, dy), output shaped like the weight.

    ``transposed`` tells whether the forward layer was a tconv (G_wgrad) or an sconv.
    """

    OP: ClassVar[str] = "wconv"
    output_padding: tuple[int, ...] = ()
    transposed: bool = False


@dataclass(frozen=True)
class Relu(Op):
    OP: ClassVar[str] = "relu"


@dataclass(frozen=True)
class LeakyRelu(Op):
    OP: ClassVar[str] = "leaky_relu"
    alpha: float = 0.01


@dataclass(frozen=True)
class Tanh(Op):
    OP: ClassVar[str] = "tanh"


@dataclass(frozen=True)
class Sigmoid(Op):
    OP: ClassVar[str] = "sigmoid"


@dataclass(frozen=True)
class BatchNorm(Op):
    """Batch normalization over the channel axis (scale, bias, running mean, running var)."""

    OP: ClassVar[str] = "batchnorm"
    epsilon: float = 1e-5
    momentum: float = 0.9
    scale: str | None = None
    bias: str | None = None
    mean: str | None = None
    var: str | None = None
    # ONNX training_mode=1: normalise with the batch's statistics even at inference (None: running ones)
    batch_statistics: bool | None = None


@dataclass(frozen=True)
class Reshape(Op):
    """Reshape to ``shape`` (the op's own output shape, per sample)."""

    OP: ClassVar[str] = "reshape"


@dataclass(frozen=True)
class Flatten(Op):
    OP: ClassVar[str] = "flatten"


@dataclass(frozen=True)
class ActGrad(Op):
    """Backward of an activation: inputs (y, dy) with y the activation's output; dx = f'(y)·dy."""

    OP: ClassVar[str] = "act_grad"
    fn: str = "relu"
    alpha: float = 0.0


@dataclass(frozen=True)
class BatchNormGrad(Op):
    """Backward of training-mode batch-norm: inputs (x, dy) -> dx; also yields d scale, d bias."""

    OP: ClassVar[str] = "batchnorm_grad"
    epsilon: float = 1e-5
    scale: str | None = None


@dataclass(frozen=True)
class LossGrad(Op):
    """Gradient of the GAN loss with respect to the discriminator's output (computed on the host)."""

    OP: ClassVar[str] = "loss_grad"
    kind: str = "bce"


@dataclass(frozen=True)
class Loss(Op):
    """The GAN losses (Eq. 1, Eq. 2) on the discriminator's output, computed on the host.

    ``kind``: ``bce_prob`` when the discriminator ends in a sigmoid, else ``bce_logit``.
    """

    OP: ClassVar[str] = "loss"
    kind: str = "bce"


# ---- DAG models (CycleGAN ResNet, pix2pix U-Net, upsample + conv generators) and their gradients ----
@dataclass(frozen=True)
class Add(Op):
    """Element-wise sum of two values of one shape (a residual connection; in a backward phase, the gradient
    of a value read by two ops: the sum of what each contributes)."""

    OP: ClassVar[str] = "add"


@dataclass(frozen=True)
class Concat(Op):
    """Concatenation of its inputs along the per-sample ``axis`` (0: channels, a U-Net skip)."""

    OP: ClassVar[str] = "concat"
    axis: int = 0


@dataclass(frozen=True)
class Slice(Op):
    """The part of its input from ``start`` along the per-sample ``axis``, as long as the op's own shape says
    (a concat's input gradient)."""

    OP: ClassVar[str] = "slice"
    axis: int = 0
    start: int = 0


@dataclass(frozen=True)
class Pad(Op):
    """ONNX Pad over the per-sample axes: ``pads`` = (begin per axis..., end per axis...), all >= 0;
    ``mode`` constant (with ``value``), reflect, edge or wrap (numpy's ``np.pad`` modes, as onnx.reference)."""

    OP: ClassVar[str] = "pad"
    pads: tuple[int, ...] = ()
    mode: str = "constant"
    value: float = 0.0


@dataclass(frozen=True)
class PadGrad(Op):
    """Backward of a pad: input dy (the padded shape) -> dx, every padded position's gradient added to the
    input position it copies (reflect, edge, wrap) or dropped (constant)."""

    OP: ClassVar[str] = "pad_grad"
    pads: tuple[int, ...] = ()
    mode: str = "constant"


@dataclass(frozen=True)
class InstanceNorm(Op):
    """ONNX InstanceNormalization: every sample's every channel normalised over its spatial positions."""

    OP: ClassVar[str] = "instancenorm"
    epsilon: float = 1e-5
    scale: str | None = None
    bias: str | None = None


@dataclass(frozen=True)
class InstanceNormGrad(Op):
    """Backward of an instance norm: inputs (x, dy) -> dx; also yields d scale, d bias."""

    OP: ClassVar[str] = "instancenorm_grad"
    epsilon: float = 1e-5
    scale: str | None = None


@dataclass(frozen=True)
class Upsample(Op):
    """Nearest-neighbour upsampling by an integer factor per spatial axis: y[o] = x[o // scale]."""

    OP: ClassVar[str] = "upsample"
    scales: tuple[int, ...] = ()


@dataclass(frozen=True)
class UpsampleGrad(Op):
    """Backward of a nearest upsample: input dy -> dx, each input position the sum of its block of dy."""

    OP: ClassVar[str] = "upsample_grad"
    scales: tuple[int, ...] = ()


@dataclass(frozen=True)
class Dropout(Op):
    """ONNX Dropout. Identity in inference (phase ``fwd``) unless ``training_mode``; in GAN training, and with
    ``training_mode``, a seeded mask: y = x · m / (1 − ratio), m ~ Bernoulli(1 − ratio) (docs/onnx.md)."""

    OP: ClassVar[str] = "dropout"
    ratio: float = 0.5
    seed: int = 0
    training_mode: bool = False


@dataclass(frozen=True)
class DropoutGrad(Op):
    """Backward of a dropout: inputs (the dropout's output, dy) -> dy times the dropout's (scaled) mask."""

    OP: ClassVar[str] = "dropout_grad"


OP_CLASSES: dict[str, type[Op]] = {
    cls.OP: cls
    for cls in (Input, Dense, WDense, SConv, TConv, WConv, Relu, LeakyRelu, Tanh, Sigmoid, BatchNorm, Reshape,
                Flatten, Loss, LossGrad, ActGrad, BatchNormGrad, Add, Concat, Slice, Pad, PadGrad, InstanceNorm,
                InstanceNormGrad, Upsample, UpsampleGrad, Dropout, DropoutGrad)
}

CONV_OPS = ("sconv", "tconv", "wconv")
# Ops whose weights (or, for a weight gradient, dy) are stored in crossbars.
MATRIX_OPS = ("dense", "wdense", "sconv", "tconv", "wconv")


def typed_fields(cls: type[Op]) -> dict[str, Any]:
    """Name -> declared default of the typed attributes of an op class."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name not in Op.COMMON}


def make_op(op: str, **fields: Any) -> Op:
    """Build an op of kind ``op`` from its common and typed fields; any other name is an error."""
    cls = OP_CLASSES[op]
    declared = typed_fields(cls)
    unknown = sorted(k for k in fields if k not in declared and k not in Op.COMMON)
    if unknown:
        raise ValueError(f"op '{op}' has no attribute '{unknown[0]}'")
    common = {k: v for k, v in fields.items() if k in Op.COMMON}
    typed = {k: _coerce(declared[k], v) for k, v in fields.items() if k in declared}
    return cls(**common, **typed)


def _coerce(default: Any, value: Any) -> Any:
    """Lists parsed from text become tuples where the field is a tuple."""
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    return value

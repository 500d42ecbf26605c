"""The pass ``expand-training``: a GAN's forward graph -> the six training phases (paper Fig. 3/7/8).

G_fwd and D_fwd are the imported forward ops. D_err back-propagates the loss through the
discriminator to its input (an sconv's input gradient is a tconv with the same weight);
D_wgrad holds the discriminator's weight gradients (wconv of an sconv); G_err carries the
error from the discriminator's input back through the generator (a tconv's input gradient
is an sconv); G_wgrad holds the generator's weight gradients (a tconv's: the correlation of
the zero-inserted input with the output gradient). Every conv op is tagged with the
zero-free interface it needs (paper §V "Interface"): ZFDR_T, ZFDR_WS or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lergan_cc.errors import LerganError
from lergan_cc.frontends.gan import REAL
from lergan_cc.ir.attrs import GanRoles, Interface
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import (
    BatchNorm,
    Concat,
    Dense,
    InstanceNorm,
    Op,
    Pad,
    SConv,
    TConv,
    Upsample,
    WConv,
    _Conv,
    make_op,
)
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")


@dataclass(frozen=True)
class ExpandTraining(Pass):
    name: ClassVar[str] = "expand-training"
    requires = (GanRoles,)
    provides = (Interface,)

    def precondition(self, g: Graph) -> str | None:
        if g.kind != "gan":
            return "needs a GAN (a single network compiles with --mode infer)"
        if any(op.phase not in ("G_fwd", "D_fwd") for op in g.ops()):
            return "runs once, on forward-only GAN IR"
        return None

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        for op in list(g.ops()):
            if isinstance(op, _Conv):
                g.update(op, Interface.of(op))
        roles = g.need(GanRoles)
        d_out = roles.discriminator_output
        kind = "bce_prob" if roles.discriminator_probability else "bce_logit"
        g.add(make_op("loss", name="loss", layer="loss", phase="D_fwd", inputs=(d_out,), shape=(), kind=kind))
        seed = g.add(make_op("loss_grad", name="loss.grad", layer="loss", phase="D_err", inputs=(d_out,),
                             shape=g.op(d_out).shape, kind=kind))
        fake_grad = _Backward(g, "D_err", "D_wgrad", need_input_grad=True).run(_network(g, "D_fwd"), d_out,
                                                                                seed.name)
        if fake_grad is None:
            raise LerganError(f"expand-training: the discriminator's output does not depend on its input '{REAL}'")
        _Backward(g, "G_err", "G_wgrad", need_input_grad=False).run(_network(g, "G_fwd"), roles.generator_output,
                                                                    fake_grad)
        return g


def _network(g: Graph, phase: str) -> list[Op]:
    """The network's ops in topological order (a DAG: a value may feed several ops)."""
    return [op for op in g.ops() if op.phase == phase and op.OP not in ("input", "loss")]


class _Backward:
    """Reverse-mode differentiation of one network's forward DAG, adding error and weight-gradient ops.

    Ops are visited in reverse topological order; a value read by several ops gets the sum (``add`` ops) of
    what each of them sends back. A chain gets exactly the ops it always got (``<op>.err``, ``<op>.wgrad``).
    """

    def __init__(self, g: Graph, err: str, wgrad: str, need_input_grad: bool) -> None:
        self.g, self.err, self.wgrad, self.need_input_grad = g, err, wgrad, need_input_grad

    def run(self, forward: list[Op], output: str, out_grad: str) -> str | None:
        """Add the backward ops from d(loss)/d(output); return the gradient of the network's input, if needed."""
        sent: dict[str, list[str]] = {output: [out_grad]}
        for op in reversed(forward):
            if op.name not in sent:
                continue  # nothing downstream of it reaches the output
            dy = self._sum(op, sent.pop(op.name))
            self._weight_gradient(op, dy)
            for x, dx in zip(op.inputs, self._input_gradients(op, dy), strict=True):
                if dx is not None:
                    sent.setdefault(x, []).append(dx)
        real = sent.get(REAL)
        return self._sum(self.g.op(REAL), real) if real else None

    def needs(self, value: str) -> bool:
        """Whether ``value`` needs a gradient: every value but the network's run-time input (D's ``real``,
        whose gradient is the fakes' error, when asked)."""
        return self.g.op(value).OP != "input" or (self.need_input_grad and value == REAL)

    def _sum(self, op: Op, grads: list[str]) -> str:
        """One gradient for ``op``'s value: the sum of the gradients its readers sent back."""
        total = grads[0]
        for i, other in enumerate(grads[1:]):
            name = f"{op.name}.gsum" + (str(i) if i else "")
            total = self.g.add(make_op("add", name=name, layer=op.layer, phase=self.err, inputs=(total, other),
                                       shape=op.shape)).name
        return total

    def _add(self, op: Op, suffix: str, kind: str, phase: str, inputs: tuple[str, ...], shape: tuple[int, ...],
             **attrs: object) -> Op:
        return self.g.add(make_op(kind, name=f"{op.name}.{suffix}", layer=op.layer, phase=phase, inputs=inputs,
                                  shape=shape, **attrs))

    def _weight_gradient(self, op: Op, dy: str) -> None:
        x = op.inputs[0]
        if isinstance(op, (SConv, TConv)):
            w = WConv(name=f"{op.name}.wgrad", layer=op.layer, phase=self.wgrad, inputs=(x, dy),
                      shape=self.g.params[op.weight].shape if op.weight else _weight_shape(self.g, op),
                      **_conv_geometry(op), output_padding=getattr(op, "output_padding", ()),
                      transposed=isinstance(op, TConv), weight=op.weight)
            self.g.add(w.attach(Interface.of(w)))
        elif op.OP == "dense":
            self._add(op, "wgrad", "wdense", self.wgrad, (x, dy), (self.g.op(x).shape[0], op.shape[0]))

    def _input_gradients(self, op: Op, dy: str) -> list[str | None]:
        """The gradient each input of ``op`` gets (None where none is needed)."""
        multi = _MULTI_INPUT_GRADIENT.get(op.OP)
        if multi is not None:
            return multi(self, op, dy)
        rule = _INPUT_GRADIENT.get(op.OP)
        if rule is None:
            raise LerganError(f"expand-training: no gradient rule for op '{op.name}' ({op.OP})")
        # a normalisation's gradient op also yields its scale's and bias's gradients: it runs even then
        if not self.needs(op.inputs[0]) and op.OP not in _PARAM_GRADIENTS:
            return [None]
        return [rule(self, op, dy, self.g.op(op.inputs[0]).shape).name]


def _weight_shape(g: Graph, op: _Conv) -> tuple[int, ...]:
    from lergan_cc.ir.shapes import weight_shape

    return weight_shape(op, g.op(op.inputs[0]).shape[0])


def _conv_geometry(op: _Conv) -> dict[str, Any]:
    return dict(out_channels=op.out_channels, kernel=op.kernel, stride=op.stride, pads=op.pads,
                dilation=op.dilation, group=op.group)


def _sconv_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    """dx of Conv(x, W) = ConvTranspose(dy, W): the same weight array, output_padding restores x's size."""
    assert isinstance(op, SConv)
    n = op.rank
    out_pad = tuple(
        x_shape[1 + a] - (op.stride[a] * (op.shape[1 + a] - 1) + (op.kernel[a] - 1) * op.dilation[a] + 1
                          - op.pads[a] - op.pads[a + n])
        for a in range(n))
    t = TConv(name=f"{op.name}.err", layer=op.layer, phase=b.err, inputs=(dy,), shape=x_shape,
              **{**_conv_geometry(op), "out_channels": x_shape[0]}, output_padding=out_pad, weight=op.weight)
    return b.g.add(t.attach(Interface.of(t)))


def _tconv_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    """dx of ConvTranspose(x, W) = Conv(dy, W) with the same weight array and geometry."""
    assert isinstance(op, TConv)
    if any(p >= s for p, s in zip(op.output_padding, op.stride, strict=True)):
        raise LerganError(f"expand-training: layer {op.layer}: output_padding >= stride has no input gradient form")
    s = SConv(name=f"{op.name}.err", layer=op.layer, phase=b.err, inputs=(dy,), shape=x_shape,
              **{**_conv_geometry(op), "out_channels": x_shape[0]}, weight=op.weight)
    return b.g.add(s.attach(Interface.of(s)))


def _dense_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    assert isinstance(op, Dense)
    return b._add(op, "err", "dense", b.err, (dy,), x_shape, units=x_shape[0], weight=op.weight, transposed=True)


def _act_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    """f'(y)·dy from the activation's output y: a leaky ReLU's slope is known from the sign of y only when
    alpha >= 0 (with alpha < 0 a positive y comes from either side)."""
    alpha = getattr(op, "alpha", 0.0)
    if alpha < 0:
        raise LerganError(f"expand-training: layer {op.layer}: leaky_relu with alpha {alpha} < 0 has no gradient "
                          f"from its output")
    return b._add(op, "err", "act_grad", b.err, (op.name, dy), x_shape, fn=op.OP, alpha=alpha)


def _bn_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    assert isinstance(op, BatchNorm)
    return b._add(op, "err", "batchnorm_grad", b.err, (op.inputs[0], dy), x_shape, epsilon=op.epsilon, scale=op.scale)


def _reshape_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    return b._add(op, "err", "reshape", b.err, (dy,), x_shape)


def _pad_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    assert isinstance(op, Pad)
    return b._add(op, "err", "pad_grad", b.err, (dy,), x_shape, pads=op.pads, mode=op.mode)


def _instancenorm_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    assert isinstance(op, InstanceNorm)
    return b._add(op, "err", "instancenorm_grad", b.err, (op.inputs[0], dy), x_shape, epsilon=op.epsilon,
                  scale=op.scale)


def _upsample_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    assert isinstance(op, Upsample)
    return b._add(op, "err", "upsample_grad", b.err, (dy,), x_shape, scales=op.scales)


def _dropout_grad(b: _Backward, op: Op, dy: str, x_shape: tuple[int, ...]) -> Op:
    return b._add(op, "err", "dropout_grad", b.err, (op.name, dy), x_shape)


def _add_grad(b: _Backward, op: Op, dy: str) -> list[str | None]:
    """d(a + b) sends dy back to both."""
    return [dy if b.needs(x) else None for x in op.inputs]


def _concat_grad(b: _Backward, op: Op, dy: str) -> list[str | None]:
    """Each input gets its part of dy (a slice at its offset along the axis)."""
    assert isinstance(op, Concat)
    out: list[str | None] = []
    at = 0
    for k, x in enumerate(op.inputs):
        shape = b.g.op(x).shape
        out.append(b._add(op, f"err{k}", "slice", b.err, (dy,), shape, axis=op.axis, start=at).name
                   if b.needs(x) else None)
        at += shape[op.axis]
    return out


_INPUT_GRADIENT: dict[str, Callable[[_Backward, Op, str, tuple[int, ...]], Op]] = {
    "sconv": _sconv_grad, "tconv": _tconv_grad, "dense": _dense_grad, "batchnorm": _bn_grad,
    "reshape": _reshape_grad, "flatten": _reshape_grad, **dict.fromkeys(ACTIVATIONS, _act_grad),
    "pad": _pad_grad, "instancenorm": _instancenorm_grad, "upsample": _upsample_grad, "dropout": _dropout_grad,
}
_MULTI_INPUT_GRADIENT: dict[str, Callable[[_Backward, Op, str], list[str | None]]] = {
    "add": _add_grad, "concat": _concat_grad,
}
_PARAM_GRADIENTS = ("batchnorm", "instancenorm")

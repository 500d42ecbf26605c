"""An independent reference for GAN training: the ONNX graphs interpreted in float64 numpy with
closed-form backward rules (reverse mode over the node list). It shares no code with the
simulator or lergan_cc.zerofree: convolutions are written as loops over kernel taps of
strided slices, their gradients as the same loops run backwards.

DESIGN §8, one iteration: the D step (D on the real batch and on the fakes, each with its own
batch statistics, gradients summed, SGD on D), then the G step with the updated D on the same
noise (SGD on G only).

DAG models (issue 16): Add, Concat, Pad (constant, reflect, edge, wrap: index arithmetic, not np.pad),
InstanceNormalization, nearest Resize/Upsample by integer scales, and Dropout with the mask docs/onnx.md
specifies (one per layer and iteration, the same in every pass of the iteration). A value read by
several nodes sums their gradients (the tape's accumulation below).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

Array = np.ndarray
Backward = Callable[[Array], list[Array | None]]


# ---- convolutions as loops over kernel taps ---------------------------------------------------------------


def _tap_slices(k: tuple[int, ...], dil: list[int], strides: list[int], count: list[int]) -> tuple[slice, ...]:
    return tuple(slice(d * t, d * t + s * (c - 1) + 1, s) for t, d, s, c in zip(k, dil, strides, count, strict=True))


def _pad(x: Array, pads: list[int]) -> Array:
    n = x.ndim - 2
    return np.pad(x, [(0, 0), (0, 0)] + [(pads[a], pads[a + n]) for a in range(n)])


def _crop(x: Array, pads: list[int]) -> Array:
    n = x.ndim - 2
    return x[(slice(None), slice(None), *(slice(pads[a], x.shape[2 + a] - pads[a + n]) for a in range(n)))]


def _contract(a: Array, b: Array) -> Array:
    """sum over batch and positions: (B, P, ...) x (B, Q, ...) -> (P, Q)."""
    return np.einsum("bpo,bqo->pq", a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1))


def conv(x: Array, w: Array, strides: list[int], pads: list[int], dil: list[int], group: int
         ) -> tuple[Array, Backward]:
    """ONNX Conv: y[b,m,o] = sum_{c,k} w[m,c,k] x[b,c,s*o + d*k - pb]."""
    xp, kernel = _pad(x, pads), w.shape[2:]
    out = [(xp.shape[2 + a] - dil[a] * (kernel[a] - 1) - 1) // strides[a] + 1 for a in range(len(kernel))]
    mg, cg = w.shape[0] // group, w.shape[1]
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for k in itertools.product(*map(range, kernel)):
        patch = xp[(slice(None), slice(None), *_tap_slices(k, dil, strides, out))]
        for g in range(group):
            y[:, g * mg:(g + 1) * mg] += np.einsum("bc...,mc->bm...", patch[:, g * cg:(g + 1) * cg],
                                                   w[(slice(g * mg, (g + 1) * mg), slice(None), *k)])

    def backward(dy: Array) -> list[Array | None]:
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        for k in itertools.product(*map(range, kernel)):
            sl = (slice(None), slice(None), *_tap_slices(k, dil, strides, out))
            for g in range(group):
                wk = w[(slice(g * mg, (g + 1) * mg), slice(None), *k)]
                dyg = dy[:, g * mg:(g + 1) * mg]
                dxp[sl][:, g * cg:(g + 1) * cg] += np.einsum("bm...,mc->bc...", dyg, wk)
                dw[(slice(g * mg, (g + 1) * mg), slice(None), *k)] += _contract(dyg, xp[sl][:, g * cg:(g + 1) * cg])
        return [_crop(dxp, pads), dw]
    return y, backward


def conv_transpose(x: Array, w: Array, strides: list[int], pads: list[int], dil: list[int], group: int,
                   output_padding: list[int]) -> tuple[Array, Backward]:
    """ONNX ConvTranspose: y_full[b,m,s*i + d*k] += x[b,c,i] w[c,m,k]; y = y_full cropped by the pads."""
    kernel, size = w.shape[2:], x.shape[2:]
    full = [s * (i - 1) + d * (k - 1) + 1 + op
            for s, i, d, k, op in zip(strides, size, dil, kernel, output_padding, strict=True)]
    cg, mg = x.shape[1] // group, w.shape[1]
    yfull = np.zeros((x.shape[0], mg * group, *full))
    for k in itertools.product(*map(range, kernel)):
        sl = (slice(None), slice(None), *_tap_slices(k, dil, strides, list(size)))
        for g in range(group):
            yfull[sl][:, g * mg:(g + 1) * mg] += np.einsum(
                "bc...,cm->bm...", x[:, g * cg:(g + 1) * cg], w[(slice(g * cg, (g + 1) * cg), slice(None), *k)])

    def backward(dy: Array) -> list[Array | None]:
        dfull = _pad(dy, pads)
        dx, dw = np.zeros_like(x), np.zeros_like(w)
        for k in itertools.product(*map(range, kernel)):
            patch = dfull[(slice(None), slice(None), *_tap_slices(k, dil, strides, list(size)))]
            for g in range(group):
                wk = w[(slice(g * cg, (g + 1) * cg), slice(None), *k)]
                pg = patch[:, g * mg:(g + 1) * mg]
                dx[:, g * cg:(g + 1) * cg] += np.einsum("bm...,cm->bc...", pg, wk)
                dw[(slice(g * cg, (g + 1) * cg), slice(None), *k)] += _contract(x[:, g * cg:(g + 1) * cg], pg)
        return [dx, dw]
    return _crop(yfull, pads), backward


# ---- the other ops -----------------------------------------------------------------------------------------


def _conv_node(ins: list[Array], a: dict[str, Any], transposed: bool) -> tuple[Array, Backward]:
    n = ins[0].ndim - 2
    args = (a.get("strides", [1] * n), a.get("pads", [0] * 2 * n), a.get("dilations", [1] * n), a.get("group", 1))
    if transposed:
        y, back = conv_transpose(ins[0], ins[1], *args, a.get("output_padding", [0] * n))
    else:
        y, back = conv(ins[0], ins[1], *args)
    if len(ins) > 2:
        y = y + ins[2].reshape(1, -1, *([1] * n))

    def backward(dy: Array) -> list[Array | None]:
        bias = [dy.sum(axis=(0, *range(2, dy.ndim)))] if len(ins) > 2 else []
        return back(dy) + bias
    return y, backward


def _gemm(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    x, b = ins[0], ins[1]
    alpha, beta, trans_b = a.get("alpha", 1.0), a.get("beta", 1.0), a.get("transB", 0)
    bm = b.T if trans_b else b
    y = alpha * x @ bm + (beta * ins[2] if len(ins) > 2 else 0.0)

    def backward(dy: Array) -> list[Array | None]:
        dbm = alpha * x.T @ dy
        grads: list[Array | None] = [alpha * dy @ bm.T, dbm.T if trans_b else dbm]
        if len(ins) > 2:
            grads.append(beta * np.broadcast_to(dy, y.shape).sum(axis=0).reshape(ins[2].shape))
        return grads
    return y, backward


def _normalized(x: Array, scale: Array, bias: Array, axes: tuple[int, ...], eps: float,
                sums: tuple[int, ...]) -> tuple[Array, Callable[[Array], tuple[Array, Array, Array]]]:
    """``x`` normalised over ``axes`` (biased variance), then scaled and shifted per channel; the backward
    gives dx and the scale's and bias's gradients summed over ``sums``."""
    shape = (1, -1, *([1] * (x.ndim - 2)))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    y = scale.reshape(shape) * xhat + bias.reshape(shape)

    def backward(dy: Array) -> tuple[Array, Array, Array]:
        dxhat = dy * scale.reshape(shape)
        dx = inv * (dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        return dx, (dy * xhat).sum(axis=sums), dy.sum(axis=sums)
    return y, backward


def _batchnorm(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    """Training mode: the batch's statistics (biased variance), as DESIGN §8 trains batch-norm."""
    axes = (0, *range(2, ins[0].ndim))
    y, back = _normalized(ins[0], ins[1], ins[2], axes, a.get("epsilon", 1e-5), axes)
    return y, lambda dy: [*back(dy), None, None]


def _pointwise(f: Callable[[Array, dict[str, Any]], Array], df: Callable[[Array, Array, dict[str, Any]], Array]
               ) -> Callable[[list[Array], dict[str, Any]], tuple[Array, Backward]]:
    def run(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
        y = f(ins[0], a)
        return y, lambda dy: [dy * df(ins[0], y, a)]
    return run


def _reshape(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    x = ins[0]
    target = [int(v) for v in ins[1]] if len(ins) > 1 else [x.shape[0], -1]
    return x.reshape([x.shape[i] if t == 0 else t for i, t in enumerate(target)]), lambda dy: [dy.reshape(x.shape)]


# ---- DAG ops ---------------------------------------------------------------------------------------------


def _add(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    return ins[0] + ins[1], lambda dy: [dy, dy]


def _concat(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    axis = a["axis"] % ins[0].ndim
    cuts = list(itertools.accumulate(x.shape[axis] for x in ins))[:-1]
    return np.concatenate(ins, axis=axis), lambda dy: list(np.split(dy, cuts, axis=axis))


def _source(o: int, n: int, before: int, mode: str) -> int | None:
    """The input position padded position ``o`` holds (None: the constant)."""
    i = o - before
    if mode == "constant":
        return i if 0 <= i < n else None
    if mode == "edge":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    while not 0 <= i < n:  # reflect about the first and last positions, as often as it takes
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def _pad_node(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    x, mode = ins[0], a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = [int(v) for v in ins[1]]
    value = float(ins[2].reshape(-1)[0]) if len(ins) > 2 else 0.0
    rank = x.ndim
    maps = [[_source(o, x.shape[ax], pads[ax], mode) for o in range(x.shape[ax] + pads[ax] + pads[ax + rank])]
            for ax in range(rank)]
    y = np.full([len(m) for m in maps], value)
    for out in itertools.product(*map(range, y.shape)):
        src = [m[o] for m, o in zip(maps, out, strict=True)]
        if None not in src:
            y[out] = x[tuple(src)]

    def backward(dy: Array) -> list[Array | None]:
        dx = np.zeros_like(x)
        for out in itertools.product(*map(range, dy.shape)):
            src = [m[o] for m, o in zip(maps, out, strict=True)]
            if None not in src:
                dx[tuple(src)] += dy[out]
        return [dx, None, None]
    return y, backward


def _instancenorm(ins: list[Array], a: dict[str, Any]) -> tuple[Array, Backward]:
    axes = tuple(range(2, ins[0].ndim))
    y, back = _normalized(ins[0], ins[1], ins[2], axes, a.get("epsilon", 1e-5), (0, *axes))
    return y, lambda dy: list(back(dy))


def _nearest(ins: list[Array], a: dict[str, Any], k_scales: int) -> tuple[Array, Backward]:
    """Nearest upsampling by integer scales (asymmetric/floor, or any rounding that reads o // s)."""
    x = ins[0]
    scales = [round(float(v)) for v in ins[k_scales].reshape(-1)][2:]
    y = x
    for ax, f in enumerate(scales):
        y = np.repeat(y, f, axis=2 + ax)

    def backward(dy: Array) -> list[Array | None]:
        blocks = dy.reshape(*x.shape[:2], *[d for n, f in zip(x.shape[2:], scales, strict=True) for d in (n, f)])
        return [blocks.sum(axis=tuple(range(3, 3 + 2 * len(scales), 2))), *([None] * (len(ins) - 1))]
    return y, backward


def dropout_mask(shape: tuple[int, ...], ratio: float, seed: int, iteration: int, key: int) -> Array:
    """docs/onnx.md: keep where numpy.random.default_rng([seed, iteration, key]).random(shape) >= ratio,
    scaled by 1 / (1 - ratio); ``key`` is the node's seed attribute, else the crc32 of its name."""
    keep = np.random.default_rng([seed % 2**32, iteration, key % 2**32]).random(shape) >= ratio
    return keep / (1.0 - ratio)


def _dropout(ins: list[Array], a: dict[str, Any], node: onnx.NodeProto, step: tuple[int, int] | None
             ) -> tuple[Array, Backward]:
    ratio = float(ins[1]) if len(ins) > 1 and ins[1] is not None else a.get("ratio", 0.5)
    ratio = float(np.float32(ratio))
    if step is None:  # inference: the identity
        return ins[0], lambda dy: [dy]
    key = int(a.get("seed", zlib.crc32(node.name.encode())))
    mask = dropout_mask(ins[0].shape, ratio, step[0], step[1], key).astype(np.float32).astype(np.float64)
    return ins[0] * mask, lambda dy: [dy * mask]


OPS: dict[str, Callable[[list[Array], dict[str, Any]], tuple[Array, Backward]]] = {
    "Conv": lambda i, a: _conv_node(i, a, transposed=False),
    "ConvTranspose": lambda i, a: _conv_node(i, a, transposed=True),
    "Gemm": _gemm,
    "BatchNormalization": _batchnorm,
    "Reshape": _reshape,
    "Flatten": _reshape,
    "Relu": _pointwise(lambda x, a: np.maximum(x, 0), lambda x, y, a: (x > 0).astype(x.dtype)),
    "LeakyRelu": _pointwise(lambda x, a: np.where(x > 0, x, a.get("alpha", 0.01) * x),
                            lambda x, y, a: np.where(x > 0, 1.0, a.get("alpha", 0.01))),
    "Tanh": _pointwise(lambda x, a: np.tanh(x), lambda x, y, a: 1 - y * y),
    "Sigmoid": _pointwise(lambda x, a: 1 / (1 + np.exp(-x)), lambda x, y, a: y * (1 - y)),
    "Add": _add,
    "Concat": _concat,
    "Pad": _pad_node,
    "InstanceNormalization": _instancenorm,
    "Resize": lambda i, a: _nearest(i, a, 2),
    "Upsample": lambda i, a: _nearest(i, a, 1),
}
# Inputs that are trained (weights, biases, normalisation scales and shifts); every other initializer is a
# constant (running statistics, shapes, pads, scales, ratios).
TRAINED = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "BatchNormalization": (1, 2),
           "InstanceNormalization": (1, 2)}


# ---- a network: forward with a tape, backward into parameter gradients -------------------------------------


class Net:
    def __init__(self, path: Path) -> None:
        self.model = onnx.load(path)
        self.params = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in self.model.graph.initializer}
        trained = {n.input[k] for n in self.model.graph.node for k in TRAINED.get(n.op_type, ()) if k < len(n.input)}
        self.constants = {n for n in self.params if n not in trained}

    def trainable(self) -> list[str]:
        return [n for n in self.params if n not in self.constants]

    def forward(self, x: Array, step: tuple[int, int] | None = (0, 0)
                ) -> tuple[Array, Callable[[Array], tuple[Array, dict[str, Array]]]]:
        """The output, and a function from d(loss)/d(output) to (d/d input, d/d parameters).
        ``step``: (the run's seed, the training iteration), which a Dropout's mask depends on (None: no mask)."""
        env: dict[str, Array] = {self.model.graph.input[0].name: x, **self.params}
        tape: list[tuple[onnx.NodeProto, Backward]] = []
        for node in self.model.graph.node:
            attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            ins = [env[i] if i else None for i in node.input]
            if node.op_type == "Dropout":
                env[node.output[0]], back = _dropout(ins, attrs, node, step)  # type: ignore[arg-type]
            else:
                env[node.output[0]], back = OPS[node.op_type](ins, attrs)  # type: ignore[arg-type]
            tape.append((node, back))
        out_name, in_name = self.model.graph.output[0].name, self.model.graph.input[0].name

        def backward(dout: Array) -> tuple[Array, dict[str, Array]]:
            grads: dict[str, Array] = {out_name: dout}
            for node, back in reversed(tape):
                if node.output[0] not in grads:
                    continue
                for name, g in zip(node.input, back(grads[node.output[0]]), strict=False):
                    if g is not None:
                        grads[name] = grads[name] + g if name in grads else g
            return grads[in_name], {n: grads.get(n, np.zeros_like(v)) for n, v in self.params.items()
                                    if n not in self.constants}
        return env[out_name], backward

    def sgd(self, grads: dict[str, Array], lr: float) -> None:
        for n, g in grads.items():
            self.params[n] = self.params[n] - lr * g


# ---- the losses (Eq. 1, Eq. 2), probability or logit form -------------------------------------------------


def bce(d: Array, target: int, logit: bool) -> tuple[float, Array]:
    """-mean(log D) (target 1) or -mean(log(1 - D)) (target 0), and its gradient with respect to d."""
    n = d.size
    if logit:
        z = -d if target else d
        value = float(np.mean(np.logaddexp(0, z)))
        sig = 1 / (1 + np.exp(-z))
        return value, (-sig if target else sig) / n
    p = d if target else 1 - d
    value = float(-np.mean(np.maximum(np.log(p), -100)))
    return value, (-1 / (d * n)) if target else 1 / ((1 - d) * n)


def reference(gp: Path, dp: Path, noise: Array, real: Array, iterations: int, lr: float, logit: bool,
              g_loss: str = "saturating", seed: int = 0) -> dict[str, Any]:
    gen, disc = Net(gp), Net(dp)
    z, r = noise.astype(np.float64), real.astype(np.float64)
    out: dict[str, Any] = {"loss_d": [], "loss_g": []}
    for it in range(iterations):
        step = (seed, it)
        fake, _ = gen.forward(z, step)
        d_real, back_real = disc.forward(r, step)
        d_fake, back_fake = disc.forward(fake, step)
        (l_real, g_real), (l_fake, g_fake) = bce(d_real, 1, logit), bce(d_fake, 0, logit)
        from_real, from_fake = back_real(g_real)[1], back_fake(g_fake)[1]
        d_grads = {n: g + from_fake[n] for n, g in from_real.items()}
        disc.sgd(d_grads, lr)
        fake, back_gen = gen.forward(z, step)
        d_fake, back_fake = disc.forward(fake, step)
        if g_loss == "saturating":
            value, grad = bce(d_fake, 0, logit)
            loss_g, dd = -value, -grad
        else:
            loss_g, dd = bce(d_fake, 1, logit)
        g_grads = back_gen(back_fake(dd)[0])[1]
        gen.sgd(g_grads, lr)
        out["loss_d"].append(l_real + l_fake)
        out["loss_g"].append(loss_g)
    out["params"] = {f"{net}/{n}": m.params[n] for net, m in (("G", gen), ("D", disc)) for n in m.trainable()}
    out["grads"] = {f"G/{n}": v for n, v in g_grads.items()} | {f"D/{n}": v for n, v in d_grads.items()}
    return out


def assert_central_differences(loss: Callable[[], tuple[float, Any, Any]],
                               nets: tuple[tuple[Net, dict[str, Array]], ...], rng: np.random.Generator,
                               per_param: int) -> None:
    """Each net's analytic gradients equal central differences of ``loss()[0]`` at ``per_param`` entries
    drawn from every trainable parameter (relative 1e-5)."""
    eps = 1e-6
    for net, grads in nets:
        for name in net.trainable():
            flat = net.params[name].reshape(-1)
            for j in rng.choice(flat.size, size=min(per_param, flat.size), replace=False):
                old = flat[j]
                flat[j] = old + eps
                up = loss()[0]
                flat[j] = old - eps
                down = loss()[0]
                flat[j] = old
                numeric = (up - down) / (2 * eps)
                assert abs(numeric - grads[name].reshape(-1)[j]) <= 1e-5 * max(1.0, abs(numeric)), (name, j)

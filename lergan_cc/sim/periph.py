"""Buffer, peripheral and host instructions as closures (everything but the crossbars).

Results keep their operands' memory layout (numpy's element-wise order ``K``), so activations
that the MMVs wrote channels-last stay channels-last through bias, batch norm and activation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

import numpy as np

from lergan_cc.errors import LerganError
from lergan_cc.fsm.copies import sharding_of
from lergan_cc.fsm.values import Ref
from lergan_cc.shards import shard_ranges
from lergan_cc.sim import fast as F
from lergan_cc.sim import kernels as K
from lergan_cc.sim import workers as W
from lergan_cc.sim.machine import Machine, Step
from lergan_cc.views import view_of


def _n(v: Any) -> str:
    assert isinstance(v, Ref)
    return v.name


def _parts(x: np.ndarray, axis: int) -> list[slice]:
    """``x`` cut along ``axis`` into one part per worker thread (a small array: one part)."""
    if x.nbytes < F.PARALLEL_COPY_BYTES or x.ndim <= axis or x.shape[axis] < 2:
        return [slice(None)]
    return W.split(x.shape[axis], W.workers())


def _at(axis: int, part: slice) -> tuple[slice, ...]:
    return (slice(None),) * axis + (part,)


def by_samples(fn: Callable[..., np.ndarray], *arrays: np.ndarray, whole: tuple[np.ndarray, ...] = (),
               into: bool = False) -> np.ndarray:
    """``fn(*arrays, *whole)`` of an element-wise ``fn``, computed a batch part per worker thread: ``arrays``
    cut by samples, ``whole`` (a per-channel row) given whole to every part; the result in the first
    array's memory layout. A numpy ufunc, or a ``fn`` that takes ``out=`` (``into``), writes its part in
    place (a bias on DCGAN's (64, 128, 32, 32): 11.7 ms through a temporary and a copy, 4.5 ms in place);
    anything else's part is copied in."""
    out = np.empty_like(arrays[0])
    in_place = into or isinstance(fn, np.ufunc)

    def part(p: slice) -> None:
        args = (*(a[p] for a in arrays), *whole)
        if in_place:
            fn(*args, out=out[p])
        else:
            out[p] = fn(*args)
    W.run_all([partial(part, p) for p in _parts(out, 0)])
    return out


# ---- buffers and peripherals ---------------------------------------------------------------------------
def _zero(o: dict[str, Any], m: Machine) -> Step:
    dst = _n(o["dst"])
    return lambda mm: mm.zero(dst)


def _reduce(o: dict[str, Any], m: Machine) -> Step:
    dst = _n(o["dst"])
    if dst not in m.shards:
        raise ValueError(f"%{dst} has no partial sums to reduce (declare it partials=K)")
    return lambda mm: mm.reduce(dst)


def _stat_groups(o: dict[str, Any], m: Machine, x: str) -> list[slice]:
    """The samples each set of batch statistics covers: the whole batch (``sync=global``, the default), or
    each shard of ``x`` (``sync=shard``: every copy normalises its samples with their own statistics)."""
    if str(o.get("sync", "global")) != "shard":
        return [slice(0, m.batch)]
    k = sharding_of(m.buffers[x].attrs).pieces
    return [slice(a, a + n) for a, n in shard_ranges(m.batch, k)]


def _zpad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    stride, before = list(o["stride"]), list(o["before"])
    if not len(stride) == len(before) == len(m.full_shape(dst)) - 2 == len(m.full_shape(src)) - 2:
        raise ValueError("stride/before do not fit the buffers' rank")
    def run(mm: Machine) -> None:
        x, out = mm.bufs[src], mm.alloc(dst)
        W.run_all([partial(lambda p: K.zpad(x[p], out[p], stride, before), p) for p in _parts(out, 0)])
        mm.put(dst, out)
    return run


def _copy(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    if dst == src:  # a move of the same buffer between tiles: no change to the numbers
        return lambda mm: None
    if m.full_shape(dst) != m.full_shape(src):
        raise ValueError(f"%{src} {list(m.full_shape(src))} and %{dst} {list(m.full_shape(dst))} differ")
    return lambda mm: mm.put(dst, by_samples(lambda a: a, mm.bufs[src]))


def _add(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    return lambda mm: mm.put(dst, by_samples(np.add, mm.bufs[dst], mm.bufs[src]))


def _reshape(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    shape = m.full_shape(dst)
    if np.prod(shape) != np.prod(m.full_shape(src)):
        raise ValueError(f"cannot reshape %{src} {list(m.full_shape(src))} to {list(shape)}")
    return lambda mm: mm.put(dst, mm.bufs[src].reshape(shape))


def _act(o: dict[str, Any], m: Machine) -> Step:
    dst, src, fn, alpha = _n(o["dst"]), _n(o["src"]), K.ACT[str(o["fn"])], float(o["alpha"])
    return lambda mm: mm.put(dst, by_samples(lambda x, out: fn(x, alpha, out), mm.bufs[src], into=True))


def _act_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, y, dy, fn, alpha = _n(o["dst"]), _n(o["y"]), _n(o["dy"]), K.ACT_GRAD[str(o["fn"])], float(o["alpha"])
    return lambda mm: mm.put(dst, by_samples(lambda a, b, out: fn(a, b, alpha, out), mm.bufs[y], mm.bufs[dy],
                                             into=True))


def _bn(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    names = [_n(o[k]) for k in ("scale", "bias", "mean", "var")]
    eps, batch = float(o["eps"]), str(o["stats"]) == "batch"
    groups = _stat_groups(o, m, src)

    def run(mm: Machine) -> None:  # by rows on channels-last memory, else a part of the channels per thread
        x, (scale, bias, mean, var) = mm.bufs[src], [mm.params[n] for n in names]
        out = np.empty_like(x)
        if batch and K.channel_rows(x) is not None and K.channel_rows(out) is not None:
            bn_by_rows(x, out, scale, bias, eps, groups)
        else:
            def part(p: slice, s: slice) -> None:
                out[s][_at(1, p)] = K.batchnorm(x[s][_at(1, p)], scale[p], bias[p], mean[p], var[p], eps, batch)
            W.run_all([partial(part, p, s) for s in groups for p in _parts(x, 1)])
        mm.put(dst, out)
    return run


def bn_by_rows(x: np.ndarray, out: np.ndarray, scale: np.ndarray, bias: np.ndarray, eps: float,
               groups: list[slice]) -> None:
    """Batch-statistics batch norm of channels-last ``x`` into ``out``, the threads taking parts of the
    rows (samples x positions), not of the channels: a part of the channels is spread over all of the
    memory, so every thread streamed all of it (DCGAN's (64, 128, 32, 32): 46 ms on two threads against
    16 ms by rows, the same values)."""
    xs, outs = [_rows(x[s]) for s in groups], [_rows(out[s]) for s in groups]
    jobs = _row_jobs(xs)
    gains = [(mean, 1.0 / np.sqrt(var + np.float32(eps)) * scale) for mean, var in _group_moments(xs, jobs)]
    W.run_all([partial(K.normalise_rows, xs[g][p], outs[g][p], *gains[g], bias) for g, p in jobs])


def bn_grad_by_rows(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, scale: np.ndarray, eps: float,
                    groups: list[slice], ds: np.ndarray, db: np.ndarray) -> None:
    """:func:`kernels.batchnorm_grad` of channels-last arrays by parts of the rows (see :func:`bn_by_rows`):
    the statistics, then x-hat into ``dx`` with dbias and dscale summed in float64 (into ``db``, ``ds``: a
    row per group), then ``dx`` in place with the kernel's float32 operations."""
    xs, dys, dxs = ([_rows(a[s]) for s in groups] for a in (x, dy, dx))
    jobs = _row_jobs(xs)
    invs = [(mean, 1.0 / np.sqrt(var + np.float32(eps))) for mean, var in _group_moments(xs, jobs)]

    def xhat_sums(g: int, p: slice) -> tuple[np.ndarray, np.ndarray]:
        K.normalise_rows(xs[g][p], dxs[g][p], *invs[g])  # x-hat, kept in dx until the last step
        return K.row_sums(dys[g][p], dxs[g][p])
    sums = cast(list[tuple[np.ndarray, np.ndarray]], W.run_all([partial(xhat_sums, g, p) for g, p in jobs]))
    for g in range(len(groups)):
        db[g], ds[g] = (np.sum(part, axis=0) for part in zip(*_of_group(jobs, sums, g), strict=True))

    def grad(g: int, p: slice) -> None:
        n, inv = xs[g].shape[0], invs[g][1]
        dxs[g][p] *= ds[g]
        t = dys[g][p] * n
        t -= db[g]
        np.subtract(t, dxs[g][p], out=dxs[g][p])
        dxs[g][p] *= scale * inv / n
    W.run_all([partial(grad, g, p) for g, p in jobs])


def _row_jobs(rows: list[np.ndarray]) -> list[tuple[int, slice]]:
    """(group, part of its rows): a part per worker thread of each group's rows (one part when they are
    small, as :func:`_parts`)."""
    parts = W.workers() if sum(r.nbytes for r in rows) >= F.PARALLEL_COPY_BYTES else 1
    return [(g, p) for g, r in enumerate(rows) for p in W.split(r.shape[0], parts)]


def _of_group(jobs: list[tuple[int, slice]], results: list[Any], group: int) -> list[Any]:
    return [r for (g, _), r in zip(jobs, results, strict=True) if g == group]


def _group_moments(rows: list[np.ndarray], jobs: list[tuple[int, slice]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's mean and variance (float32), summed in float64 by parts of the rows."""
    sums = cast(list[tuple[np.ndarray, np.ndarray]], W.run_all([partial(K.row_sums, rows[g][p]) for g, p in jobs]))
    return [K.moments_of_sums(_of_group(jobs, sums, g), r.shape[0], r.dtype) for g, r in enumerate(rows)]


def _rows(a: np.ndarray) -> np.ndarray:
    rows = K.channel_rows(a)
    assert rows is not None
    return rows


def _bn_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, x, dy, scale = _n(o["dst"]), _n(o["x"]), _n(o["dy"]), _n(o["scale"])
    if ("dscale" in o) != ("dbias" in o):
        raise ValueError("give both dscale and dbias, or neither")
    dscale, dbias, eps = _n(o.get("dscale", o["dst"])), _n(o.get("dbias", o["dst"])), float(o["eps"])
    train = "dscale" in o
    groups = _stat_groups(o, m, x)

    def run(mm: Machine) -> None:  # by rows on channels-last memory, else a part of the channels per thread
        xs, dys, gamma = mm.bufs[x], mm.bufs[dy], mm.params[scale]
        dx = np.empty_like(xs)
        c = xs.shape[1]
        ds, db = np.empty((len(groups), c), dtype=np.float32), np.empty((len(groups), c), dtype=np.float32)
        if all(K.channel_rows(a) is not None for a in (xs, dys, dx)):
            bn_grad_by_rows(xs, dys, dx, gamma, eps, groups, ds, db)
        else:
            def part(p: slice, g: int) -> None:
                s = groups[g]
                dx[s][_at(1, p)], ds[g, p], db[g, p] = K.batchnorm_grad(xs[s][_at(1, p)], dys[s][_at(1, p)],
                                                                        gamma[p], eps)
            W.run_all([partial(part, p, g) for g in range(len(groups)) for p in _parts(xs, 1)])
        mm.put(dst, dx)
        if train:
            _bn_param_grads(mm, (dscale, dbias), xs, dys, eps, groups, (ds, db))
    return run


def _bn_param_grads(mm: Machine, names: tuple[str, str], x: np.ndarray, dy: np.ndarray, eps: float,
                    groups: list[slice], sums: tuple[np.ndarray, np.ndarray]) -> None:
    """Add dscale, dbias into their gradients: per statistics group as computed, or, when a gradient keeps
    per-shard partial sums under statistics of the whole batch, each shard's samples with the batch's x-hat."""
    for i, (name, per_group) in enumerate(zip(names, sums, strict=True)):
        targets = mm.sums(name)
        if [s for _, s in targets] == groups:
            values = list(per_group)
        elif len(targets) == 1:
            values = [per_group.sum(axis=0)]
        elif len(groups) == 1:
            values = K.batchnorm_param_grads(x, dy, eps, [s for _, s in targets])[i]
        else:
            raise ValueError(f"%{name}: {len(targets)} partial sums for {len(groups)} sets of batch statistics")
        for (target, _), value in zip(targets, values, strict=True):
            target += value


def _bias(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    nd = len(m.full_shape(dst))
    if m.program.table("param")[src].shape == m.full_shape(dst):  # one bias row per sample (a Gemm's matrix C)
        return lambda mm: mm.put(dst, by_samples(np.add, mm.bufs[dst], mm.params[src]))
    return lambda mm: mm.put(dst, by_samples(np.add, mm.bufs[dst],
                                             whole=(mm.params[src].reshape((1, -1) + (1,) * (nd - 2)),)))


def _bias_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    axes = (0, *range(2, len(m.full_shape(src))))

    def run(mm: Machine) -> None:
        dy = mm.bufs[src]
        for target, s in mm.sums(dst):
            target += dy[s].sum(axis=axes)
    return run


def _nothing(o: dict[str, Any], m: Machine) -> Step:
    return lambda mm: None


# ---- host ----------------------------------------------------------------------------------------------
def _input(o: dict[str, Any], m: Machine) -> Step:
    dst, key, view = _n(o["dst"]), str(o["key"]), view_of(o)

    def run(mm: Machine) -> None:
        value = mm.host.inputs(key)
        if view is not None and value.shape == view.shape:  # the model's layout: the host hands it over so
            value = view.to_ir(value, mm.full_shape(dst))
        if value.shape != mm.full_shape(dst):
            raise LerganError(f"input '{key}': shape {list(value.shape)}, the program needs "
                              f"{list(mm.full_shape(dst))}")
        mm.put(dst, value)
    return run


def _output(o: dict[str, Any], m: Machine) -> Step:
    src, key, view = _n(o["src"]), str(o["key"]), view_of(o)

    def run(mm: Machine) -> None:
        mm.host.outputs[key] = view.from_ir(mm.bufs[src]) if view is not None else mm.bufs[src].copy()
    return run


def _loss(o: dict[str, Any], m: Machine) -> Step:
    dst, src, form, term = str(o["dst"]), _n(o["src"]), str(o["form"]), str(o["term"])

    def run(mm: Machine) -> None:
        mm.losses[dst] = mm.losses.get(dst, 0.0) + K.loss_term(mm.bufs[src], term, form, mm.host.g_loss)
    return run


def _loss_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src, form, term = _n(o["dst"]), _n(o["src"]), str(o["form"]), str(o["term"])
    return lambda mm: mm.put(dst, K.loss_term_grad(mm.bufs[src], term, form, mm.host.g_loss))


def _sgd(o: dict[str, Any], m: Machine) -> Step:
    p, grad = _n(o["param"]), _n(o["grad"])
    if tuple(m.params[p].shape) != m.full_shape(grad):
        raise ValueError(f"@{p} {list(m.params[p].shape)} and %{grad} {list(m.full_shape(grad))} differ")

    def run(mm: Machine) -> None:
        # -lr*g + p (the same float32 sum as p - lr*g) in the gradient's memory layout, which is the
        # crossbars' (kernel..., C, M): the next cut of the updated weight needs no transposition
        g, w = mm.bufs[grad], mm.params[p]
        new = np.multiply(g, np.float32(-mm.host.lr), dtype=np.float32)
        if new.strides == w.strides:
            new += w
        else:  # layouts differ (a weight from the sidecar, its gradient in the crossbars' order)
            new += F.copy_blocked(w, np.empty_like(new))
        mm.replace_param(p, new)
    return run


COMPILERS: dict[str, Callable[[dict[str, Any], Machine], Step]] = {
    "zero": _zero, "reduce": _reduce, "zpad": _zpad, "load": _copy, "store": _copy, "xfer": _copy,
    "add": _add, "reshape": _reshape, "act": _act, "act_grad": _act_grad, "bn": _bn, "bn_grad": _bn_grad,
    "bias": _bias, "bias_grad": _bias_grad, "layer": _nothing, "setmode": _nothing, "setswitch": _nothing,
    "barrier": _nothing, "host.input": _input, "host.output": _output, "host.loss": _loss,
    "host.loss_grad": _loss_grad, "host.sgd": _sgd,
}

"""The peripherals' activations and their gradients, written in place a batch part per thread, against the
textbook formulas evaluated whole in float32 (``np.where``), bit for bit: relu, leaky relu (any alpha), tanh
and sigmoid, on the machine's channels-last memory, with zeros of both signs among the values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.sim import kernels as K
from lergan_cc.sim.periph import by_samples
from tests.conftest import three_parts

F32 = np.float32
EPS32 = float(np.finfo(F32).eps)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (F32(1) / (F32(1) + np.exp(-x.astype(np.float64)))).astype(F32)


FORWARD: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "relu": lambda x, a: np.where(x > 0, x, F32(0)),
    "leaky_relu": lambda x, a: np.where(x > 0, x, x * F32(a)),
    "tanh": lambda x, a: np.tanh(x),
    "sigmoid": lambda x, a: _sigmoid(x),
}
BACKWARD: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "relu": lambda y, dy, a: np.where(y > 0, dy, dy * F32(0)),
    "leaky_relu": lambda y, dy, a: np.where(y > 0, dy, dy * F32(a)),
    "tanh": lambda y, dy, a: dy * (F32(1) - y * y),
    "sigmoid": lambda y, dy, a: dy * y * (F32(1) - y),
}


def channels_last(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    b, c, *spatial = shape
    x = rng.standard_normal((b, *spatial, c)).astype(F32)
    x[rng.random(x.shape) < 0.1] = F32(0)
    x[rng.random(x.shape) < 0.1] = F32(-0.0)
    return np.moveaxis(x, -1, 1)


def channels_last_memory(a: np.ndarray) -> bool:
    return bool(np.moveaxis(a, 1, -1).flags.c_contiguous)


shapes = st.tuples(st.integers(1, 7), st.integers(1, 5), st.integers(1, 6), st.integers(1, 6))
alphas = st.one_of(st.sampled_from([0.0, 0.2, 1.0]), st.floats(0.0, 1.0), st.floats(1.0, 3.0))


@pytest.mark.parametrize("fn", sorted(set(K.ACT) - {"sigmoid"}))  # sigmoid: below
@settings(max_examples=25, deadline=None)
@given(shape=shapes, alpha=alphas, seed=st.integers(0, 2**16))
def test_an_activation_in_place_is_the_formula(fn: str, shape: tuple[int, ...], alpha: float, seed: int) -> None:
    x = channels_last(np.random.default_rng(seed), shape)
    with three_parts():
        got = by_samples(lambda v, out: K.ACT[fn](v, alpha, out), x, into=True)
    want = FORWARD[fn](x, alpha)
    assert channels_last_memory(got)  # the input's memory layout
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_sigmoid_is_float32_accurate(shape: tuple[int, ...], seed: int) -> None:
    """exp(-log(1 + e^-x)) in float32: the logarithm's rounding (an ulp of ``z`` = log(1 + e^-x)) becomes a
    relative error of |z| ulps in the exponential; a few ulps besides."""
    x = channels_last(np.random.default_rng(seed), shape) * F32(8)
    with three_parts():
        got = by_samples(lambda v, out: K.ACT["sigmoid"](v, 0.0, out), x, into=True)
    x64 = x.astype(np.float64)
    want = 1 / (1 + np.exp(-x64))
    z = np.logaddexp(0, -x64)
    assert got.dtype == F32 and channels_last_memory(got)
    assert np.all(np.abs(got - want) <= (4 + 2 * z) * EPS32 * want)


@pytest.mark.parametrize("fn", sorted(K.ACT_GRAD))
@settings(max_examples=25, deadline=None)
@given(shape=shapes, alpha=alphas, seed=st.integers(0, 2**16))
def test_an_activation_gradient_in_place_is_the_formula(fn: str, shape: tuple[int, ...], alpha: float,
                                                        seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, dy = channels_last(rng, shape), channels_last(rng, shape)
    if fn in ("tanh", "sigmoid"):  # an output of the activation
        y = np.tanh(y) if fn == "tanh" else _sigmoid(y)
    with three_parts():
        got = by_samples(lambda a, b, out: K.ACT_GRAD[fn](a, b, alpha, out), y, dy, into=True)
    want = BACKWARD[fn](y, dy, alpha)
    assert channels_last_memory(got)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))

"""Batch and instance norm on the machine's channels-last memory against float64 arithmetic.

The norms reduce over axes that are not the contiguous one in the machine's layout, where numpy sums
naively: a float32 mean of a channel far from zero (mean 3, deviation 0.05) was then off enough for
``x - mean`` to put errors of ~10^-4 into the normalised values (found by
tests/test_dag_inference.py's random models against onnx.reference). ``kernels.moments`` sums in
float64; what is left is float32 rounding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.sim.dag import instancenorm
from lergan_cc.sim.kernels import batchnorm

EPS32 = float(np.finfo(np.float32).eps)


def channels_last(rng: np.random.Generator, shape: tuple[int, ...], offset: float, spread: float) -> np.ndarray:
    """``(B, C, spatial...)`` values whose memory runs channels-last, as the machine keeps activations."""
    b, c, *spatial = shape
    x = (rng.standard_normal((b, *spatial, c)) * spread + offset * (1 + rng.random(c))).astype(np.float32)
    return np.moveaxis(x, -1, 1)


def normalised(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    x64 = x.astype(np.float64)
    return (x64 - x64.mean(axis=axes, keepdims=True)) / np.sqrt(x64.var(axis=axes, keepdims=True) + eps)


def error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def bound(x: np.ndarray, want: np.ndarray, axes: tuple[int, ...]) -> float:
    """What float32 itself costs: the mean's own rounding (an ulp of the values), divided by the smallest
    deviation, relative to the largest normalised value; eight times that, plus 10^-6. Naive float32 sums
    of N values are off by ~sqrt(N) ulps: over this bound from N = 64 on."""
    spread = float(np.sqrt(x.astype(np.float64).var(axis=axes).min() + 1e-5))
    return 8 * EPS32 * float(np.abs(x).max()) / spread / float(np.abs(want).max()) + 1e-6


shapes = st.tuples(st.integers(8, 32), st.integers(1, 8), st.integers(8, 24), st.integers(8, 24))


@settings(max_examples=20, deadline=None)
@given(shapes, st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
def test_batchnorm_is_float32_accurate(shape: tuple[int, ...], offset: float, spread: float, seed: int) -> None:
    x = channels_last(np.random.default_rng(seed), shape, offset, spread)
    ones, zeros = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
    got, want = batchnorm(x, ones, zeros, ones, ones, 1e-5, True), normalised(x, (0, 2, 3), 1e-5)
    assert error(got, want) < bound(x, want, (0, 2, 3))


@settings(max_examples=20, deadline=None)
@given(shapes, st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
def test_instancenorm_is_float32_accurate(shape: tuple[int, ...], offset: float, spread: float, seed: int) -> None:
    b, c, h, w = shape
    x = channels_last(np.random.default_rng(seed), (b, c, 4 * h, 4 * w), offset, spread)
    ones, zeros = np.ones(c, np.float32), np.zeros(c, np.float32)
    want = normalised(x, (2, 3), 1e-5)
    assert error(instancenorm(x, ones, zeros, 1e-5), want) < bound(x, want, (2, 3))


def test_the_case_that_found_it() -> None:
    """Channels of mean 3-6 and deviation 0.05 over 64 x 32 x 32 samples: 1.1e-4 with float32 sums."""
    x = channels_last(np.random.default_rng(0), (64, 8, 32, 32), 3.0, 0.05)
    ones, zeros = np.ones(8, np.float32), np.zeros(8, np.float32)
    got, want = batchnorm(x, ones, zeros, ones, ones, 1e-5, True), normalised(x, (0, 2, 3), 1e-5)
    assert error(got, want) < 1e-5 < bound(x, want, (0, 2, 3))

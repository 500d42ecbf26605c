"""The simulator's GEMM kernels (lergan_cc.sim.fast) against the literal MMV of lergan_cc.sim.kernels.

``fast`` splits one MMV over worker threads (by samples, or by the matrix's columns when the GEMM
has few rows) and over batch chunks (a bound on the gathered copy); every split must give the
literal result: the gather through the affine window, then the matrix product.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lergan_cc.sim import fast as F
from lergan_cc.sim import workers as W


def _literal_forward(x: np.ndarray, idx: np.ndarray, mat: np.ndarray) -> np.ndarray:
    b = x.shape[0]
    return np.stack([x[s][idx].reshape(idx.shape[0], -1) @ mat for s in range(b)])


def _literal_wgrad(x: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    b, (p, t) = x.shape[0], idx.shape
    d = rows.reshape(b, t, -1)
    return sum(x[s][idx].transpose(0, 2, 1).reshape(p * x.shape[2], t) @ d[s] for s in range(b))


@pytest.fixture(params=[1, 2, 3])
def workers(request: pytest.FixtureRequest) -> Iterator[int]:
    W.set_workers(request.param)
    yield request.param
    W.set_workers(0)


@pytest.mark.parametrize(("b", "n", "c", "p", "t", "m", "budget"), [
    (5, 30, 4, 7, 3, 6, 1 << 30),       # few rows, few columns: one job
    (9, 200, 3, 64, 4, 5, 1 << 30),     # many rows: split by samples
    (3, 10, 8, 2, 2, 600, 1 << 30),     # few rows, many columns: split by columns
    (9, 200, 3, 64, 4, 5, 4000),        # batch chunks bounded by the gather budget
])
def test_forward_and_wgrad_match_the_literal_product(monkeypatch: pytest.MonkeyPatch, workers: int, b: int, n: int,
                                                      c: int, p: int, t: int, m: int, budget: int) -> None:
    monkeypatch.setattr(F, "GATHER_BYTES", budget)
    monkeypatch.setattr(F, "MIN_ROWS", 4)
    rng = np.random.default_rng(b * 1000 + p)
    x = rng.standard_normal((b, n + 1, c), dtype=np.float32)
    x[:, n] = 0  # the zero slot
    idx = rng.integers(0, n + 1, (p, t))
    mat = rng.standard_normal((t * c, m), dtype=np.float32)
    chunk = F.batch_chunk(b, idx.size * c * 4)
    got = np.full((b, p, m), np.nan, dtype=np.float32)

    def put(samples: slice, cols: slice, y: np.ndarray) -> None:
        got[samples, :, cols] = y.reshape(samples.stop - samples.start, p, -1)
    F.forward(x, idx, mat, chunk, put)
    np.testing.assert_allclose(got, _literal_forward(x, idx, mat), rtol=1e-5, atol=1e-5)
    rows = rng.standard_normal((b * t, m), dtype=np.float32)
    np.testing.assert_allclose(F.wgrad(x, idx, rows, chunk), _literal_wgrad(x, idx, rows), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("n", "c", "p", "t", "m"), [
    (40, 64, 36, 9, 3),    # few columns, about as many inputs as results: every input times every tap first
    (25, 32, 25, 4, 1),
])
def test_forward_taps_first_matches_the_literal_product(workers: int, n: int, c: int, p: int, t: int, m: int) -> None:
    assert F.taps_first_pays(n + 1, p, t, c, m)
    rng = np.random.default_rng(n * p)
    x = rng.standard_normal((5, n + 1, c), dtype=np.float32)
    x[:, n] = 0  # the zero slot: reads outside the operand
    idx = rng.integers(0, n + 1, (p, t))
    mat = rng.standard_normal((t * c, m), dtype=np.float32)
    got = np.full((5, p, m), np.nan, dtype=np.float32)

    def put(samples: slice, cols: slice, y: np.ndarray) -> None:
        got[samples, :, cols] = y.reshape(samples.stop - samples.start, p, -1)
    F.forward(x, idx, mat, 5, put)
    np.testing.assert_allclose(got, _literal_forward(x, idx, mat), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("n", "c", "t", "m", "slot_reads"), [
    (30, 16, 28, 3, 0),    # one kernel tap's gradient: dy placed at the inputs it read, then one GEMM
    (30, 16, 27, 2, 3),    # three reads of the zero slot (padding): zeros, whatever lands there
    (30, 600, 29, 1, 1),   # many channels: the GEMM split over the threads
])
def test_wgrad_scattered_matches_the_literal_product(workers: int, n: int, c: int, t: int, m: int,
                                                     slot_reads: int) -> None:
    rng = np.random.default_rng(t * c)
    x = rng.standard_normal((4, n + 1, c), dtype=np.float32)
    x[:, n] = 0
    idx = np.concatenate([rng.permutation(n)[:t - slot_reads], np.full(slot_reads, n)]).reshape(1, t)
    assert F.scatter_pays(idx, n + 1, m)
    rows = rng.standard_normal((4 * t, m), dtype=np.float32)
    np.testing.assert_allclose(F.wgrad(x, idx, rows, 4), _literal_wgrad(x, idx, rows), rtol=1e-4, atol=1e-4)


def test_wgrad_scatter_is_not_taken_when_taps_collide() -> None:
    """Two taps reading one real input (not the zero slot) would need a sum where the placement overwrites."""
    assert not F.scatter_pays(np.array([[0, 1, 2, 2]]), 5, 3)
    assert not F.scatter_pays(np.array([[0, 1, 2, 3]]), 5, 32)  # wide dy: the gather is as cheap
    assert not F.taps_first_pays(65, 64, 9, 64, 128)  # a wide matrix: the window's GEMM


def test_wgrad_zero_slot_with_values_falls_back_to_the_gather() -> None:
    """An operand without a zero slot whose last position is read twice: the literal sum, not the placement."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 4), dtype=np.float32)
    idx = np.array([[0, 1, 2, 3, 5, 5]])
    rows = rng.standard_normal((2 * 6, 3), dtype=np.float32)
    np.testing.assert_allclose(F.wgrad(x, idx, rows, 2), _literal_wgrad(x, idx, rows), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("taps", [[[0, 2, 4], [1, 3]], [[3], [0, 1, 2, 3, 4]], [[4, 2, 0], [1]], [[0, 1, 3], [2, 4]]])
def test_weight_rows_cut_the_taps(taps: list[list[int]]) -> None:
    """Progressions become strided views, other tap lists a take; rows are (taps, channel) either way."""
    wt = np.random.default_rng(1).standard_normal((5, 5, 3, 4), dtype=np.float32)
    want = np.stack([wt[i, j] for i in taps[0] for j in taps[1]]).reshape(-1, 4)
    np.testing.assert_array_equal(F.weight_rows(wt, taps), want)


def test_zeros_and_channels_last_keep_the_logical_shape() -> None:
    x = F.zeros((2, 3, 4, 5), F.channels_last_order(4))
    assert x.shape == (2, 3, 4, 5) and np.moveaxis(x, 1, -1).flags.c_contiguous
    x[...] = np.arange(x.size, dtype=np.float32).reshape(x.shape)
    view, copied = F.channels_last(x, zero_slot=False)
    assert not copied and np.array_equal(view, np.moveaxis(x, 1, -1).reshape(2, 20, 3))
    slot, copied = F.channels_last(x, zero_slot=True)
    assert copied and np.array_equal(slot[:, :20], view) and not slot[:, 20].any()


@pytest.mark.parametrize("perm", [(2, 3, 0, 1), (2, 3, 1, 0), (1, 0, 2, 3)])
def test_copy_blocked_is_a_transposing_copy(workers: int, perm: tuple[int, ...]) -> None:
    """Blocks along the source's outermost memory axis, shared out over the threads: the same as one copy."""
    w = np.random.default_rng(2).standard_normal((9, 7, 5, 3), dtype=np.float32)
    view = w.transpose(perm)
    got = F.copy_blocked(view, np.empty(view.shape, dtype=np.float32), block_bytes=200)
    np.testing.assert_array_equal(got, np.ascontiguousarray(view))

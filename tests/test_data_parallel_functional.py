"""Sample-parallel copies compute what one copy computes (issue 14's functional tests).

Small GANs written in the DSL are trained two iterations with ``--data-parallel 1`` and with K copies
(2, 3 — unequal shards for most batches — and auto), every ``--zero-free`` scheme, both targets, with and
without batch norm, both ``--grad-reduce`` modes and both ``--overlap`` schedules: the weights and losses
must agree to 1e-5. ``--data-parallel 1`` is itself checked against closed-form gradients in
``test_sim_training.py``. The partial sums are real: a program without its ``reduce`` instructions
updates with zero gradients, and ``--bn-sync shard`` normalises each shard with its own statistics (equal
to the whole batch's only when every shard holds the same samples).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lergan_cc import api
from lergan_cc.fsm.asm import parse_fsm
from lergan_cc.fsm.program import Program
from lergan_cc.shards import shard_ranges

NO_BATCHNORM = "  after G.first relu\n  after G.hidden relu\n  after D.hidden leaky_relu(0.2)\n"


def gan(rank: int, channels: tuple[int, int], batchnorm: bool) -> str:
    """A GAN of two T-CONVs and three CONVs on 8x8 (or 4x4x4) items."""
    c1, c2 = channels
    item = "8x8" if rank == 2 else "4x4x4"
    return (f'gan {{\n  generator "8f-({c1}t-{c2}t)(4k2s)-t1"\n'
            f'  discriminator "(1c-{c2}c-{c1}c)(4k2s)-f1"\n  item {item}\n  item_channels 1\n'
            f'{"" if batchnorm else NO_BATCHNORM}}}\n')


def train(model: str, batch: int, **options: Any) -> api.Result:
    program = api.compile(model, batch=batch, warn=lambda _: None, **options)
    return api.simulate(program, iterations=2, seed=5, timing=False)


def assert_same_training(a: api.Result, b: api.Result, tol: float = 1e-5) -> None:
    assert a.outputs.keys() == b.outputs.keys()
    for name, want in a.outputs.items():
        got = b.outputs[name]
        scale = max(1.0, float(np.max(np.abs(want))))
        assert np.max(np.abs(got - want)) <= tol * scale, name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank=st.sampled_from([2, 3]), channels=st.tuples(st.integers(2, 4), st.integers(2, 3)),
       batchnorm=st.booleans(), batch=st.integers(2, 7), copies=st.sampled_from([2, 3, "auto"]),
       zero_free=st.sampled_from(["zfdr", "deform", "none"]), target=st.sampled_from(["lergan-3d", "htree-2d"]),
       grad_reduce=st.sampled_from(["tree", "home"]), overlap=st.sampled_from(["none", "paper"]))
def test_copies_train_like_one_copy(rank: int, channels: tuple[int, int], batchnorm: bool, batch: int,
                                    copies: int | str, zero_free: str, target: str, grad_reduce: str,
                                    overlap: str) -> None:
    model = gan(rank, channels, batchnorm)
    copies = min(copies, batch) if isinstance(copies, int) else copies
    common = {"zero_free": zero_free, "target": target}
    one = train(model, batch, **common)
    many = train(model, batch, data_parallel=copies, grad_reduce=grad_reduce, overlap=overlap, **common)
    assert_same_training(one, many)


def _without_reduce(program: api.Program) -> api.Program:
    text = "\n".join(ln for ln in program.text.splitlines() if not ln.strip().startswith("reduce ")) + "\n"
    assert text != program.text + ("" if program.text.endswith("\n") else "\n")
    fsm: Program = parse_fsm(text, "p.fsm")
    return api.Program(fsm, text, program.tensors)


def test_the_update_reads_only_reduced_partial_sums() -> None:
    """Drop the reduce instructions and D's and G's weights move by nothing: the copies' partial sums are
    kept apart until a reduce sums them."""
    model = gan(2, (3, 2), batchnorm=False)
    program = api.compile(model, batch=4, data_parallel=2, warn=lambda _: None)
    start = dict(program.tensors)
    broken = api.simulate(_without_reduce(program), iterations=1, seed=5, timing=False, lr=1.0)
    right = api.simulate(program, iterations=1, seed=5, timing=False, lr=1.0)  # G's gradients are tiny
    weights = [k for k in start if k.endswith(".weight")]
    assert weights
    for k in weights:
        assert np.array_equal(broken.outputs[k], start[k]), k
        assert not np.array_equal(right.outputs[k], start[k]), k


def _repeated_inputs(batch: int, k: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Inputs whose every shard holds the same samples (equal shards), per iteration."""
    rng = np.random.default_rng(0)
    size = batch // k
    out = {}
    for key, shape in shapes.items():
        one = rng.standard_normal((2, size, *shape)).astype(np.float32)
        out[key] = np.concatenate([one] * k, axis=1)
    return out


def test_bn_sync_shard_is_the_whole_batch_when_the_shards_agree_and_not_otherwise() -> None:
    model = gan(2, (3, 2), batchnorm=True)
    batch, k = 6, 3
    program = api.compile(model, batch=batch, data_parallel=k, bn_sync="shard", warn=lambda _: None)
    assert " sync=shard" in program.text
    assert [n for _, n in shard_ranges(batch, k)] == [2, 2, 2]
    from lergan_cc.sim.driver import input_shapes

    inputs = _repeated_inputs(batch, k, input_shapes(program.fsm))
    one = api.simulate(api.compile(model, batch=batch, warn=lambda _: None), iterations=2, inputs=inputs,
                       timing=False)
    shard = api.simulate(program, iterations=2, inputs=inputs, timing=False)
    assert_same_training(one, shard)
    drawn_one = api.simulate(api.compile(model, batch=batch, warn=lambda _: None), iterations=1, seed=2,
                             timing=False)
    drawn_shard = api.simulate(program, iterations=1, seed=2, timing=False)
    assert not np.allclose(drawn_one.outputs["loss_d"], drawn_shard.outputs["loss_d"], rtol=1e-4)


def test_a_sharded_dcgan_step_matches_one_copy() -> None:
    """DCGAN (batch norm in G and D) at batch 5 with auto copies (5 shards of one sample; the statistics of
    the whole batch): one training step equals dp 1's."""
    one = api.simulate(api.compile("examples/dcgan.lergan", batch=5, warn=lambda _: None), seed=1, timing=False)
    program = api.compile("examples/dcgan.lergan", batch=5, data_parallel="auto", warn=lambda _: None)
    assert " partials=5 " in program.text
    assert_same_training(one, api.simulate(program, seed=1, timing=False))

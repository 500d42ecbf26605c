"""Compile options (the DESIGN §8 flags of ``lerganc``), checked when built."""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.errors import LerganError

ZERO_FREE = ("zfdr", "deform", "none")
TARGETS = ("lergan-3d", "htree-2d")
REPLICAS = ("none", "low", "middle", "high")
MODES = ("train", "infer")
GRAD_REDUCE = ("tree", "home")
BN_SYNC = ("global", "shard")
DP_PROGRAMMING = ("multicast", "per-copy")
OVERLAP = ("none", "paper")
AUTO = "auto"
DEFAULT_BATCH = 64
MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class Options:
    """What a compile is asked for; ``None`` where the model decides (mode, replica degree)."""

    mode: str | None = None  # None: train for a GAN, infer for a single network
    discriminator: str | None = None
    zero_free: str = "zfdr"
    target: str = "lergan-3d"
    replica: str | None = None  # None: the model's replica_degree (DSL), else "low"
    hw: str | None = None
    batch: int | None = None  # None: the model's static batch (ONNX), else DEFAULT_BATCH; set once imported
    data_parallel: int | str = 1  # sample-parallel copies of every phase's matrices: N, or "auto"
    grad_reduce: str = "tree"  # sum the copies' partial weight gradients on the node adders, or at home
    bn_sync: str = "global"  # batch-norm statistics over the whole batch, or per shard
    dp_programming: str = "multicast"  # an update's weights to every copy in one stream, or one per copy
    overlap: str = "none"  # "paper": programming overlaps computation as in paper §IV-B

    def __post_init__(self) -> None:
        for name, value, choices in (("mode", self.mode, MODES), ("zero_free", self.zero_free, ZERO_FREE),
                                     ("target", self.target, TARGETS), ("replica", self.replica, REPLICAS),
                                     ("grad_reduce", self.grad_reduce, GRAD_REDUCE),
                                     ("bn_sync", self.bn_sync, BN_SYNC),
                                     ("dp_programming", self.dp_programming, DP_PROGRAMMING),
                                     ("overlap", self.overlap, OVERLAP)):
            if value is not None and value not in choices:
                raise LerganError(f"{name} '{value}': expected one of {', '.join(choices)}")
        batch = self.batch
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH):
            raise LerganError(f"batch {batch!r}: expected an integer from 1 to {MAX_BATCH}")
        dp = self.data_parallel
        if dp != AUTO and (isinstance(dp, bool) or not isinstance(dp, int) or not 1 <= dp <= (batch or MAX_BATCH)):
            raise LerganError(f"data_parallel {dp!r}: expected auto or an integer from 1 to the batch ({batch})")

    @property
    def the_batch(self) -> int:
        """The batch compiled for: :func:`lergan_cc.pipeline.resolve_batch` sets it from the model when it is
        imported; passes run on IR without a model (tests, ``lergan-opt``) get the default."""
        return DEFAULT_BATCH if self.batch is None else self.batch

    def replica_degree(self, model_degree: str | None) -> str:
        """--replica wins over the DSL's replica_degree; both absent means low (DESIGN §8)."""
        return self.replica or model_degree or "low"

"""Compile options (the DESIGN §8 flags of ``lerganc``), checked when built."""

from __future__ import annotations

from dataclasses import dataclass

from lergan_cc.errors import LerganError

ZERO_FREE = ("zfdr", "deform", "none")
TARGETS = ("lergan-3d", "htree-2d")
REPLICAS = ("none", "low", "middle", "high")
MODES = ("train", "infer")
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
    batch: int = DEFAULT_BATCH

    def __post_init__(self) -> None:
        for name, value, choices in (("mode", self.mode, MODES), ("zero_free", self.zero_free, ZERO_FREE),
                                     ("target", self.target, TARGETS), ("replica", self.replica, REPLICAS)):
            if value is not None and value not in choices:
                raise LerganError(f"{name} '{value}': expected one of {', '.join(choices)}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or not 1 <= self.batch <= MAX_BATCH:
            raise LerganError(f"batch {self.batch!r}: expected an integer from 1 to {MAX_BATCH}")

    def replica_degree(self, model_degree: str | None) -> str:
        """--replica wins over the DSL's replica_degree; both absent means low (DESIGN §8)."""
        return self.replica or model_degree or "low"

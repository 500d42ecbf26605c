"""Compile options shared by the driver and the passes (DESIGN §8 flags)."""

from __future__ import annotations

from dataclasses import dataclass

ZERO_FREE = ("zfdr", "deform", "none")
TARGETS = ("lergan-3d", "htree-2d")
REPLICAS = ("none", "low", "middle", "high")
MODES = ("train", "infer")


@dataclass(frozen=True)
class Options:
    mode: str | None = None  # None: train for a GAN, infer for a single network
    discriminator: str | None = None
    zero_free: str = "zfdr"
    target: str = "lergan-3d"
    replica: str | None = None  # None: the model's replica_degree (DSL), else "low"
    hw: str | None = None
    batch: int = 64

    def replica_degree(self, meta: dict[str, object]) -> str:
        """--replica wins over the DSL's replica_degree; both absent means low (DESIGN §8)."""
        return self.replica or str(meta.get("replica_degree", "low"))

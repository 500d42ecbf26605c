"""The pass ``data-parallel``: sample-parallel copies of every training phase's matrices (``--data-parallel``).

PRIME maps a network into several banks to process different inputs in parallel, and PipeLayer trains
with batch parallelism; the paper's machine has room for it (DCGAN at ``--replica low`` fills 1.8 % of
Table IV's crossbars). Each phase gets ``K`` copies of all of its matrices (kinds and their replicas
alike); copy ``s`` processes shard ``s`` of the batch (``lergan_cc.shards``: unequal shards when ``K``
does not divide the batch). ``N`` gives every phase ``N`` copies, placed in the phase's own bank and,
when they do not fit there, in the banks no phase computes in (B7, B8 on Table IV's machine);
``auto`` gives each phase as many as its own bank holds (at most one per sample). The placers put
every copy in its own window (``place-3d``: vertically aligned with the same copy of the layer's
other phases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import DataParallel, Replicas, Reshape
from lergan_cc.ir.graph import Graph
from lergan_cc.mapping.matrices import (
    bank_budget,
    matrix_ops,
    part_size,
    phases_present,
    sarray_bytes,
    spill_banks,
    stored_bytes,
)
from lergan_cc.options import AUTO, Options
from lergan_cc.pass_base import Pass

if TYPE_CHECKING:
    from lergan_cc.context import CompileContext


@dataclass(frozen=True)
class DataParallelPass(Pass):
    """``copies``: N, or ``auto``; ``batch``: the samples of one iteration."""

    name: ClassVar[str] = "data-parallel"
    requires = (Reshape, Replicas)
    provides = (DataParallel,)
    copies: int | str = AUTO
    batch: int = 64

    @classmethod
    def from_options(cls, options: Options) -> DataParallelPass:
        return cls(options.data_parallel, options.the_batch)

    def run(self, g: Graph, ctx: CompileContext) -> Graph:
        hw, ops = ctx.hw, matrix_ops(g)
        if self.copies != AUTO and int(self.copies) > self.batch:
            raise LerganError(f"--data-parallel {self.copies}: more copies than the {self.batch} samples of the batch")
        copies: dict[str, int] = {}
        spill: dict[str, tuple[str, ...]] = {}
        pool = spill_banks(hw)
        for phase in phases_present(ops):
            mine = [op for op in ops if op.phase == phase]
            size = sum(part_size(hw, op) for op in mine)
            per_bank = min(bank_budget(hw, mine) // max(1, size), self._storage_fit(ctx, g, phase))
            if self.copies == AUTO:  # its own bank only (and one copy whatever: the placer reports a misfit)
                copies[phase] = max(1, min(self.batch, per_bank))
                continue
            want = int(self.copies)
            if want > per_bank:  # explicit N beyond the phase's own bank: spare banks, while there are any
                need = -(-(want - per_bank) // max(1, per_bank)) if per_bank else len(pool) + 1
                if per_bank == 0 or need > len(pool):
                    fit = per_bank * (1 + len(pool))
                    raise LerganError(f"capacity exceeded: phase {phase} asks for {want} copies of its {size} "
                                      f"crossbars, {fit} fit (its bank and {len(pool)} spare bank(s) of "
                                      f"{hw.crossbars_per_bank}); try --data-parallel {max(1, fit)} or auto")
                spill[phase], pool = tuple(pool[:need]), pool[need:]
            copies[phase] = want
        g.attach(DataParallel(self.batch, copies, spill))
        return g

    def _storage_fit(self, ctx: CompileContext, g: Graph, phase: str) -> int:
        """Copies whose gradient sums fit the bank's SArray beside the phase's activations (of the whole batch:
        the shards split it). Activations beyond the SArray are what ``--data-parallel 1`` accepts too (its
        timing does not charge their spill into other banks' SArrays): a warning says so and the crossbars
        alone bound the copies."""
        hw = ctx.hw
        acts, grads = stored_bytes(hw, g, phase, self.batch)
        room = sarray_bytes(hw) - acts
        if room < 0:
            ctx.warn(f"phase {phase} stores {acts} bytes of activations for a batch of {self.batch}, its bank's "
                     f"SArray holds {sarray_bytes(hw)}: timed as if they fitted (the spill into other banks' "
                     "SArrays is not modelled, as at --data-parallel 1)")
            return self.batch
        return room // grads if grads else self.batch

"""How a batch is cut into the shards of sample-parallel copies (one rule for compiler and simulator).

Copy ``s`` of ``k`` processes samples ``[start, start + count)``: ``batch // k`` samples each, the first
``batch % k`` copies one more, in order (shards of unequal size when ``k`` does not divide the batch).
"""

from __future__ import annotations


def shard_ranges(batch: int, k: int) -> list[tuple[int, int]]:
    """``(start, count)`` of each of the ``k`` shards of ``batch`` samples."""
    if not 1 <= k <= batch:
        raise ValueError(f"{k} shards of a batch of {batch}")
    base, extra = divmod(batch, k)
    out, start = [], 0
    for s in range(k):
        count = base + (s < extra)
        out.append((start, count))
        start += count
    return out


def overlaps(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """``(shard of a, shard of b, first sample, samples)`` for every pair of shards that share samples."""
    out = []
    j = 0
    for i, (start, count) in enumerate(a):
        end = start + count
        while j < len(b) and b[j][0] + b[j][1] <= start:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            lo, hi = max(start, b[k][0]), min(end, b[k][0] + b[k][1])
            out.append((i, k, lo, hi - lo))
            k += 1
    return out

"""The cyclic garbage collector paused for runs that make next to no cyclic garbage.

CPython's collector runs a pass whenever container allocations outnumber deallocations by a threshold; a
pass walks the objects of its generations. A compile and a timing-only simulation allocate millions of
tuples, lists and records that stay alive until the run ends (the IR, the program, the schedule's rows),
so the passes find next to nothing, and together cost about one walk over everything the run made: 20-30 ms
of a DCGAN compile, 50-70 ms of a large timing-only run (``docs/performance.md``). Pausing alone only moves
that walk: the first pass after the collector is back walks every object made while it was off. So a
command that ends its process when its run returns (:func:`lergan_cc.cli.common.as_command`, through
``os._exit``) leaves the collector off; a caller in the same process (the tests) gets it back.
The functional simulation is never paused: its cycles may hold large arrays."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_process_ends_after = False


def process_ends_after_run() -> None:
    """This process ends when the command's run returns: a paused collector stays paused."""
    global _process_ends_after
    _process_ends_after = True


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """The collector off inside and, unless the process ends after the run, back to its previous state after
    (reference counting still frees every object that is not in a cycle)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was and not _process_ends_after:
            gc.enable()

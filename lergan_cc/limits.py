"""The limits every number from every input is held to, before anything is allocated or run.

Integers are sizes, counts and indices: more than :data:`MAX_INT_DIGITS` digits is a typo or an
attack, not a model (and Python refuses to parse more than 4,300 digits at all). Floats must be
finite. Arrays must be finite. What the simulator allocates must fit the host's memory budget, and
what it runs must fit a work budget, so that no input makes a tool hang or exhaust the machine: an
input past a limit is one :class:`LerganError` line naming what and how much.
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Callable
from typing import TYPE_CHECKING

from lergan_cc.errors import LerganError

if TYPE_CHECKING:  # numpy is imported by the checks that need it: a CLI's --help loads none of it
    import numpy as np

MAX_INT_DIGITS = 18  # every integer a model or program needs fits in 64 bits
MAX_MACS = 10**13  # functional simulation: multiply-accumulates in a whole run (hours of numpy at most)
MAX_STEPS = 10**7  # timing model: instructions costed in a whole run (iterations x instructions per iteration)
HOST_SHARE = 0.5  # of the physical memory (or of what an address-space limit leaves) the simulator may use


def to_int(text: str) -> int:
    """A decimal integer token; more than :data:`MAX_INT_DIGITS` digits raises ValueError saying so."""
    digits = len(text.strip().lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"integer of {digits} digits is out of range (at most {MAX_INT_DIGITS})")
    return int(text)


def to_float(text: str) -> float:
    """A finite float token (``1e999`` is infinite: ValueError)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {_clip(text.strip())} is not finite")
    return value


def check_int(value: int, what: str, low: int = 1, high: int = 2**62) -> int:
    """An integer in [low, high], else one line naming ``what``."""
    if type(value) is not int or not low <= value <= high:
        shown = _clip(str(value))
        raise LerganError(f"{what}: {shown} is out of range ({low} .. {high})")
    return value


def check_finite(a: np.ndarray, what: str) -> np.ndarray:
    """Refuse NaN or infinity in an array of numbers (weights, inputs)."""
    import numpy as np

    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise LerganError(f"{what}: {bad} of {a.size} values are NaN or infinite")
    return a


def host_budget() -> int:
    """Bytes the simulator may allocate: a share of the physical memory, less under an address-space limit."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        physical = 8 << 30
    budget = int(physical * HOST_SHARE)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        budget = min(budget, int(max(0, soft - _address_space()) * HOST_SHARE))
    return budget


def _address_space() -> int:
    """This process's current virtual size (what RLIMIT_AS counts)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def check_host_bytes(nbytes: int, what: str) -> None:
    budget = host_budget()
    if nbytes > budget:
        raise LerganError(f"{what} needs {fmt_bytes(nbytes)}, more than the {fmt_bytes(budget)} this machine "
                          f"allows the simulator")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"


# ---- command-line numbers --------------------------------------------------------------------------
def int_flag(flag: str, low: int = 1, high: int = 2**31 - 1) -> Callable[[str], int]:
    """An argparse ``type``: a decimal integer in [low, high], else one line naming the flag."""
    what = f"a positive integer up to {high}" if low == 1 else f"an integer in {low} .. {high}"

    def parse(text: str) -> int:
        try:
            value = to_int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise LerganError(f"{flag}: expected {what}, got '{_clip(text)}'")
        return value
    return parse


def float_flag(flag: str, low: float = 0.0, high: float = 1e6) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in [low, high]."""
    what = f"a finite number >= {low:g}" if high == math.inf else f"a finite number in {low:g} .. {high:g}"

    def parse(text: str) -> float:
        try:
            value = to_float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise LerganError(f"{flag}: expected {what}, got '{_clip(text)}'")
        return value
    return parse


def _clip(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"

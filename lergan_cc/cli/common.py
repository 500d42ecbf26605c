"""What every driver shares: one-line errors with exit status 2 (:func:`lergan_cc.outputs.guard`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from lergan_cc.outputs import Outputs, guard

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a driver; bad input becomes one line on stderr and exit status 2."""
    return guard(prog, body)


def write_atomic(path: str, data: str | bytes) -> None:
    """Write one file through a temporary beside it and rename (see :mod:`lergan_cc.outputs`)."""
    with Outputs() as out:
        out.file("", path)
        out.write(path, data)

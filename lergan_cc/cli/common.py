"""What every driver shares: one-line errors with exit status 2, atomic output files."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from typing import IO, NoReturn

from lergan_cc.errors import LerganError

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a driver; bad input becomes one line on stderr and exit status 2."""
    try:
        return body() or 0
    except LerganError as e:
        sys.stderr.write(f"{prog}: error: {e}\n")
        return EXIT_BAD_INPUT
    except RecursionError:
        sys.stderr.write(f"{prog}: error: input nested too deeply\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130


def write_atomic(path: str, data: str | bytes) -> None:
    """Write ``path`` through a temporary file and rename, so a failure never leaves a partial file."""
    if isinstance(data, bytes):
        write_atomic_with(path, lambda f: f.write(data))
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_atomic_with(path: str, write: Callable[[IO[bytes]], object]) -> None:
    """:func:`write_atomic` for a writer that streams into a binary file (a sidecar: no copy in memory)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def emit_text(text: str, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.write(text)
    else:
        write_atomic(out, text)

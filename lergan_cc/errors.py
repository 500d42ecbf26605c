"""User-facing errors: the drivers print them as one line and exit with status 2; warnings held until success."""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Iterable, Iterator


class LerganError(Exception):
    """Bad input of any kind: the message is the whole one-line diagnostic."""


class SourceError(LerganError):
    """An error that points at a place in a source file."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column = path, line, column


def read_error(path: str, e: OSError) -> LerganError:
    """The one line for an input file that cannot be read."""
    if isinstance(e, FileNotFoundError):
        return LerganError(f"{path}: no such file")
    if isinstance(e, IsADirectoryError):
        return LerganError(f"{path}: is a directory")
    return LerganError(f"{path}: cannot read: {e.strerror}")


def read_bytes(path: str) -> bytes:
    """The bytes of an input file, or :func:`read_error`'s one line."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise read_error(path, e) from None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a known name is close to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_held: list[str] | None = None


def warn(message: str) -> None:
    """A warning line for stderr: at once, or when the run ends well if a driver holds warnings."""
    if _held is None:
        print(message, file=sys.stderr)
    else:
        _held.append(message)


@contextlib.contextmanager
def hold_warnings() -> Iterator[list[str]]:
    """Collect :func:`warn` lines (a failed run prints its one error line, not a warning before it)."""
    global _held
    saved, _held = _held, []
    try:
        yield _held
    finally:
        _held = saved

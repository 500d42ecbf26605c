"""What every driver shares: one-line errors with exit status 2 (:func:`lergan_cc.outputs.guard`), ``--version``,
and help that says every flag's default."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from lergan_cc.cli.collector import process_ends_after_run
from lergan_cc.outputs import Outputs, guard, leave

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error instead of the usage block, a ``--version`` flag, and every flag's
    default at the end of its help (unless the help already says what the default is)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action=_Version, help="print the version and exit")

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*names, **kwargs)
        quiet = isinstance(action, (argparse._HelpAction, argparse._VersionAction))
        if action.option_strings and not quiet and action.help is not argparse.SUPPRESS \
                and "default" not in (action.help or ""):
            action.help = f"{action.help or ''} (default: {_default(action)})".lstrip()
        return action

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


class _Version(argparse._VersionAction):
    """``--version``, the installed version looked up only when asked (``importlib.metadata`` costs every
    command ~15 ms)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        self.version = f"%(prog)s {version()}"
        super().__call__(parser, namespace, values, option_string)


def _default(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    return "none" if action.default is None else str(action.default).replace("%", "%%")


def version() -> str:
    """The installed package's version (``pyproject.toml``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lergan_cc")
    except PackageNotFoundError:
        return "unknown (not installed)"


def guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a driver; bad input becomes one line on stderr and exit status 2."""
    return guard(prog, body)


def as_command(prog: str, main: Callable[[], int]) -> NoReturn:
    """A tool run as a command (its ``[project.scripts]`` entry, ``python -m``): ``main`` then
    :func:`lergan_cc.outputs.leave` (no interpreter tear-down). ``main`` itself returns its status and leaves
    the process running, for callers in the same process (the tests)."""
    process_ends_after_run()
    leave(prog, main())


def write_atomic(path: str, data: str | bytes) -> None:
    """Write one file through a temporary beside it and rename (see :mod:`lergan_cc.outputs`)."""
    with Outputs() as out:
        out.file("", path)
        out.write(path, data)

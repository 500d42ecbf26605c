"""One output discipline for every tool: nothing an input, nothing half written, nothing left behind.

A run names everything it reads (:meth:`Outputs.input`) and everything it will write
(:meth:`Outputs.file`, :meth:`Outputs.directory`) before it does any work, and each output is
checked then: not an input (same resolved path or same file, a program's ``.fsm.npz`` sidecar
included), not a directory, not read-only, in a directory that exists and is writable, not named
twice. The run then *stages* its outputs (:meth:`Outputs.write`): each one goes to a temporary file
beside its target, created per the umask, and only when the whole run has succeeded are all of them
renamed into place (:meth:`Outputs.commit`, signals held off meanwhile), in the order they were
staged, so a program's sidecar lands before the program that records its digest. Any other end
(a :class:`LerganError`, Ctrl-C, SIGTERM, a bug) removes the temporaries and every directory the run
created. Text for stdout is held until the files are in place.

Special files (``/dev/null``, a FIFO) are written in place: a rename would replace the device.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import IO, Any, NoReturn, TypeVar

from lergan_cc.errors import LerganError, hold_warnings

T = TypeVar("T")

TMP_MARK = ".lergan-tmp-"
STDOUT = "-"
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so that ``finally`` blocks run (temporaries go)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class _Staged:
    target: str
    temp: str | None  # None: a special file (/dev/null, a FIFO), written in place at commit
    data: bytes = b""


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _into_place(temp: str, target: str) -> None:
    """Rename ``temp`` to ``target``. Over an existing regular file the two names are exchanged
    (``renameat2(RENAME_EXCHANGE)``: atomic, either file whole under the target at every moment) and the
    old file, now under the temporary's name, removed. ext4 (its ``auto_da_alloc`` heuristic) starts writing
    out a file renamed *over* another one inside the rename: 0.05-0.12 s for a 144 MB sidecar, paid by
    every compile that replaces its previous program, not by one to a new name. An exchange is not
    such a rename, so both cost the same. Nothing here is fsynced either way: the files reach the disk with
    the kernel's writeback (docs/driver.md). Where there is no exchange (not Linux, a file system
    without it, anything but a regular file in the way): ``os.replace``."""
    if _exchanged(temp, target):
        with contextlib.suppress(OSError):
            os.unlink(temp)  # now the old file
        return
    os.replace(temp, target)


def _exchanged(temp: str, target: str) -> bool:
    exchange = _renameat2()
    try:
        return exchange is not None and stat.S_ISREG(os.lstat(target).st_mode) and \
            exchange(_AT_FDCWD, os.fsencode(temp), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0
    except OSError:  # no target (any more)
        return False


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    """glibc's ``renameat2`` (Linux, glibc >= 2.28), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    call.restype = ctypes.c_int
    return call


def _show(flag: str, path: str) -> str:
    """``-o x``, or the bare path for a positional argument (``MODEL``) or a derived file."""
    return f"{flag} {path}" if flag.startswith("-") and ":" not in flag else path


class Outputs:
    """The inputs and outputs of one run; a context manager that commits on success, discards otherwise."""

    def __init__(self, inputs: Iterable[tuple[str, str | None]] = ()) -> None:
        self._inputs: list[tuple[str, str, tuple[int, int] | None]] = []  # (flag, real path, file identity)
        self._targets: dict[str, str] = {}  # real path -> the flag that named it
        self._dirs: dict[str, str] = {}  # real path of an output directory -> flag
        self._created: list[str] = []  # directories this run made (removed again if it fails)
        self._staged: list[_Staged] = []
        self._stdout: list[str] = []
        self.committed = False
        for flag, path in inputs:
            if path is not None:
                self.input(flag, path)

    @classmethod
    def of(cls, args: object, inputs: dict[str, str] | None = None, files: dict[str, str] | None = None,
           dirs: dict[str, str] | None = None) -> Outputs:
        """Declare a parsed command line's inputs, output files and output directories (attribute -> flag)."""
        out = cls((flag, getattr(args, name)) for name, flag in (inputs or {}).items())
        for name, flag in (dirs or {}).items():
            out.directory(flag, getattr(args, name))
        for name, flag in (files or {}).items():
            out.file(flag, getattr(args, name))
        return out

    def emission(self, flag: str, path: str | None, emit: str, model: str) -> str:
        """Declare ``lerganc``'s main output: a program pair (default MODEL-stem.fsm here), else text (stdout).

        A program cannot go to stdout: it has a sidecar, and a file written beside the current
        directory without being asked for is the surprise this module exists to prevent.
        """
        if emit != "fsm":
            return self.file(flag, path) or STDOUT
        if path == STDOUT:
            raise LerganError(f"{flag} -: a program has a sidecar (.fsm.npz) and cannot go to stdout; "
                              f"name a file ({flag} PROG.fsm) or choose a text --emit")
        if path is None:  # the default: MODEL-stem.fsm in the current directory
            flag, path = "output", os.path.splitext(os.path.basename(model))[0] + ".fsm"
        self.file(flag, path)
        self.file(f"{flag} {path}: its sidecar", f"{path}.npz")
        return path

    # ---- declaring --------------------------------------------------------------------------
    def input(self, flag: str, path: str, must_exist: bool = True) -> None:
        """A file the run reads (``-`` is stdin and names no file): it must exist and not be a directory."""
        if path == STDOUT:
            return
        real = os.path.realpath(path)
        if must_exist and not os.path.exists(real):
            raise LerganError(f"{_show(flag, path)}: no such file")
        if os.path.isdir(real):
            raise LerganError(f"{_show(flag, path)}: is a directory")
        ident = _identity(real)
        for target, out_flag in self._targets.items():
            if real == target or (ident is not None and ident == _identity(target)):
                raise LerganError(f"{_show(out_flag, path)} is also an input ({flag}): refusing to overwrite it")
        self._inputs.append((flag, real, ident))

    def program_input(self, flag: str, path: str) -> None:
        """An FSM program: the ``.fsm`` and its ``.fsm.npz`` sidecar (checked by the loader when needed)."""
        self.input(flag, path)
        self.input(f"{flag} {path}: its sidecar", f"{path}.npz", must_exist=False)

    def file(self, flag: str, path: str | None) -> str | None:
        """Declare an output file (``-``: stdout); refuse it now if writing it would be wrong."""
        if path is None or path == STDOUT:
            return path
        if not path:
            raise LerganError(f"{flag}: empty file name")
        real = os.path.realpath(path)
        self._check_new(flag, path, real)
        if os.path.isdir(real):
            raise LerganError(f"{_show(flag, path)}: is a directory")
        parent = os.path.dirname(real)
        if parent not in self._dirs:
            _check_directory(flag, path, parent)
        if os.path.lexists(real) and stat.S_ISREG(os.stat(real).st_mode) and not os.stat(real).st_mode & 0o222:
            raise LerganError(f"{_show(flag, path)}: read-only file (not overwritten)")
        self._targets[real] = flag
        return path

    def directory(self, flag: str, path: str | None) -> str | None:
        """Declare an output directory (made at the first file staged in it if missing; its parent must exist)."""
        if path is None:
            return None
        if not path:
            raise LerganError(f"{flag}: empty directory name")
        real = os.path.realpath(path)
        self._check_new(flag, path, real)
        if os.path.exists(real):
            if not os.path.isdir(real):
                raise LerganError(f"{_show(flag, path)}: not a directory")
            _check_directory(flag, path, real)
        else:
            _check_directory(flag, path, os.path.dirname(real))
        self._dirs[real] = flag
        return path

    def _check_new(self, flag: str, path: str, real: str) -> None:
        ident = _identity(real)
        for what, other, other_ident in self._inputs:
            if real == other or (ident is not None and ident == other_ident):
                raise LerganError(f"{_show(flag, path)} is also an input ({what}): refusing to overwrite it")
        if self._targets.get(real) == flag or self._dirs.get(real) == flag:
            return  # declared again by the same flag (a file of an output directory, staged later)
        if real in self._targets or real in self._dirs:
            first = self._targets.get(real) or self._dirs[real]
            raise LerganError(f"{_show(flag, path)}: the same file as {first}")

    # ---- writing ----------------------------------------------------------------------------
    def write(self, path: str | None, data: str | bytes | Callable[[IO[bytes]], T]) -> T | None:
        """Stage ``data`` for ``path`` (declared before; ``-`` or None: stdout, after the files). ``data``
        may be a writer that streams into the (seekable, binary) temporary: its result is returned."""
        if path is None or path == STDOUT:
            if callable(data):
                raise AssertionError("a streamed output cannot go to stdout")
            self._stdout.append(data if isinstance(data, str) else data.decode())
            return None
        real = os.path.realpath(path)
        if real not in self._targets:
            raise AssertionError(f"output {path} was not declared before the run")
        self._make_parent(os.path.dirname(real))
        if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
            buf = io.BytesIO()
            result = data(buf) if callable(data) else None
            if not callable(data):
                buf.write(data.encode() if isinstance(data, str) else data)
            self._staged.append(_Staged(real, None, buf.getvalue()))
            return result
        # a random name, created O_EXCL below (os.urandom: the secrets module loads OpenSSL, ~6 ms a command)
        temp = os.path.join(os.path.dirname(real), f".{os.path.basename(real)}{TMP_MARK}{os.urandom(4).hex()}")
        _LIVE.add(temp)
        self._staged.append(_Staged(real, temp))
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            with os.fdopen(fd, "w+b") as f:
                if callable(data):
                    return data(f)
                f.write(data.encode() if isinstance(data, str) else data)
                return None
        except OSError as e:
            raise LerganError(f"{self._targets[real]} {path}: cannot write: {e.strerror}") from None

    def writer(self, directory: str | None) -> Callable[[str, str | bytes], None] | None:
        """``write(name, text)`` into a declared output directory (for ``--dump-ir``)."""
        if directory is None:
            return None

        def write(name: str, data: str | bytes) -> None:
            path = os.path.join(directory, name)
            self.file(self._dirs[os.path.realpath(directory)], path)
            self.write(path, data)
        return write

    def _make_parent(self, parent: str) -> None:
        if parent in self._dirs and not os.path.isdir(parent):
            os.mkdir(parent)
            self._created.append(parent)

    def commit(self) -> None:
        """Rename every staged file into place (signals held), then write what goes to stdout."""
        with _signals_held():
            for s in self._staged:
                if s.temp is None:
                    with open(s.target, "wb") as f:
                        f.write(s.data)
                    continue
                try:
                    _into_place(s.temp, s.target)
                except OSError as e:
                    raise LerganError(f"{s.target}: cannot write: {e.strerror}") from None
                _LIVE.discard(s.temp)
            self.committed = True
        try:
            for text in self._stdout:
                sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as e:  # a full disk or device behind stdout (``> /dev/full``)
            raise LerganError(_stdout_failed(e)) from None

    def discard(self) -> None:
        """Remove every temporary and every directory this run made."""
        with _signals_held():
            for s in self._staged:
                if s.temp is not None and s.temp in _LIVE:
                    with contextlib.suppress(OSError):
                        os.unlink(s.temp)
                    _LIVE.discard(s.temp)
            for d in reversed(self._created):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            self._staged.clear()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None and not self.committed:
            try:
                self.commit()
            finally:
                if not self.committed:
                    self.discard()
        elif kind is not None:
            self.discard()


def _check_directory(flag: str, path: str, directory: str) -> None:
    if not os.path.exists(directory):
        raise LerganError(f"{_show(flag, path)}: no such directory '{directory}'")
    if not os.path.isdir(directory):
        raise LerganError(f"{_show(flag, path)}: '{directory}' is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise LerganError(f"{_show(flag, path)}: directory '{directory}' is not writable")


def check_creatable_directory(flag: str, path: str) -> None:
    """A directory the run may create with its parents (a cache): no file on the way, writable where it starts."""
    real = os.path.realpath(path)
    probe = real
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise LerganError(f"{_show(flag, path)}: '{probe}' is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise LerganError(f"{_show(flag, path)}: directory '{probe}' is not writable")


# ---- temporaries left by an unexpected exit, signals --------------------------------------------------
_LIVE: set[str] = set()


@atexit.register
def _remove_live() -> None:
    for temp in list(_LIVE):
        with contextlib.suppress(OSError):
            os.unlink(temp)
    _LIVE.clear()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP wait until the block is done (a pair of renames lands whole), then arrive.

    Python runs a signal's handler at some bytecode after the signal came, so blocking the signal at the
    OS level is not enough: one that came just before could still raise in the middle of the renames.
    Instead every handler is swapped for one that records the signal (a signal handled before the swap
    raises before any rename), and what was recorded is raised again once the old handlers are back.
    """
    caught: list[int] = []
    saved: dict[int, Any] = {}
    try:
        with contextlib.suppress(ValueError):  # not the main thread: no handlers to swap
            for sig in _HELD:
                saved[sig] = signal.getsignal(sig)
                signal.signal(sig, lambda signum, frame: caught.append(signum))
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated`, SIGINT KeyboardInterrupt (Python's own handler)."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _terminate)


def quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): point stdout at /dev/null so the exit flush is quiet."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


# ---- the exit discipline of every tool ---------------------------------------------------------------
def guard(prog: str, body: Callable[[], int | None]) -> int:
    """Run a tool: bad input is one line on stderr and exit status 2; a signal or a closed stdout ends
    it quietly after the temporaries are gone; warnings are shown only when the run succeeds (an error
    is the one line a failed run prints)."""
    install_signal_handlers()
    with hold_warnings() as held:
        try:
            status = body() or 0
        except LerganError as e:
            return _fail(prog, str(e))
        except RecursionError:
            return _fail(prog, "input nested too deeply")
        except MemoryError:
            return _fail(prog, "out of memory: the input asks for more than this machine has")
        except KeyboardInterrupt:
            sys.stderr.write(f"{prog}: interrupted\n")
            return EXIT_INTERRUPTED
        except Terminated as t:
            sys.stderr.write(f"{prog}: {'hung up' if t.signum == signal.SIGHUP else 'terminated'}\n")
            return 128 + t.signum
        except BrokenPipeError:
            return quiet_broken_pipe()
    for line in held:
        sys.stderr.write(line + "\n")
    return status


def leave(prog: str, status: int) -> NoReturn:
    """End the process with ``status`` as a command ends: stdout and stderr flushed, the ``atexit`` handlers
    run (temporaries, ``weakref.finalize``, a coverage collector), then ``os._exit`` — without tearing the
    interpreter down, which frees every module's objects one by one and cost a compile 0.06-0.1 s of its
    0.7 s (the technique of Instagram's "Dismissing Python Garbage Collection"). A stdout whose reader went
    away ends quietly with EXIT_BROKEN_PIPE, one that cannot be written with one line and status 2 (where
    the interpreter's own exit printed a traceback-like message and status 120)."""
    atexit._run_exitfuncs()  # first, as the interpreter's exit does: what they print is flushed below
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        status = quiet_broken_pipe()
    except OSError as e:
        status = _fail(prog, _stdout_failed(e))
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr is not None:
            sys.stderr.flush()
    os._exit(status)


def _stdout_failed(e: OSError) -> str:
    return f"cannot write to stdout: {e.strerror or e}"


def _fail(prog: str, message: str) -> int:
    sys.stderr.write(f"{prog}: error: {' '.join(message.split())}\n")
    return 2

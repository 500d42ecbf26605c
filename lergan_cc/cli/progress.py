"""Progress of a long run for the person watching it (``lerganc``, ``lergan-opt``, ``lergan-sim``).

Nothing for the first two seconds (most runs are over by then); after that a ``rich`` bar on stderr — what
runs now, how far along, the time so far — removed when the run ends. Only on a terminal: a pipe or a
log gets the results alone. ``lergan-bench`` has its own display (``lergan_cc.bench.progress``), with the
same library.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress

DELAY_S = 2.0


class Progress:
    """A bar shown from ``delay`` seconds on, on ``stream`` when it is a terminal; a no-op otherwise."""

    def __init__(self, what: str, total: float | None = None, stream: TextIO | None = None,
                 delay: float = DELAY_S) -> None:
        self.stream = stream or sys.stderr
        self.shown = False
        self._lock = threading.Lock()
        self._bar: RichProgress | None = None
        self._timer: threading.Timer | None = None
        if not self.stream.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                             TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
        self._task = self._bar.add_task(what, total=total)
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def __enter__(self) -> Progress:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._bar is not None and self.shown:
                self._bar.stop()
            self._bar = None

    def _show(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.start()
                self.shown = True

    def update(self, description: str | None = None, completed: float | None = None,
               total: float | None = None) -> None:
        """What runs now and how far along it is (``completed`` of ``total`` steps)."""
        with self._lock:
            if self._bar is not None:
                self._bar.update(self._task, description=description, completed=completed, total=total)

    def line(self, text: str) -> None:
        """A line kept above the bar (an iteration's losses), once the bar is shown."""
        with self._lock:
            if self._bar is not None and self.shown:
                self._bar.console.print(text, highlight=False, markup=False)

"""Command-line drivers: lerganc, lergan-opt, lergan-sim, lergan-bench.

Until a driver's guard takes over (:func:`lergan_cc.outputs.guard`), Ctrl-C ends the program quietly
with status 130: an interrupt while the modules load has nothing to clean up and no traceback to show.
"""

import signal


def _interrupted_while_loading(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_loading)


"""One compile context (TVM's ``PassContext``): the options, the hardware loaded and validated once, the
target's topology, where warnings go, and what the last pass emitted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from lergan_cc.errors import warn
from lergan_cc.options import Options
from lergan_cc.targets.geometry import Topology, build_topology
from lergan_cc.targets.hw import Hardware, load_hw

if TYPE_CHECKING:
    from lergan_cc.fsm.emitted import Emitted


def warn_stderr(message: str) -> None:
    """A warning line on stderr (held by a command-line tool until its run succeeds: lergan_cc.errors.warn)."""
    warn(f"lergan_cc: warning: {message}")


@dataclass
class CompileContext:
    options: Options
    hw: Hardware
    warn: Callable[[str], None] = warn_stderr
    emitted: Emitted | None = field(default=None, repr=False)  # emit-fsm's program and tensors
    batch_from: str = "option"  # where options.batch came from: model, option or default (program header)

    @classmethod
    def create(cls, options: Options, warn: Callable[[str], None] = warn_stderr) -> CompileContext:
        """Load and validate the hardware description (``options.hw`` over the defaults) once."""
        return cls(options, load_hw(options.hw), warn)

    @cached_property
    def topology(self) -> Topology:
        return build_topology(self.hw, self.options.target)

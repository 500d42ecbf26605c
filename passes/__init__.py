"""Every pass, registered by its kebab-case name with a lazy factory.

Each module here is named after its pass (``expand-training`` -> ``expand_training.py``);
the front end is the pass ``import`` (``import.py``, loaded through importlib).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from lergan_cc.ir.graph import Graph
    from lergan_cc.options import Options


class Pass(Protocol):
    name: ClassVar[str]

    def apply(self, g: Graph | None, options: Options) -> Graph: ...


# name -> "module:Class", in pipeline order.
REGISTRY: dict[str, str] = {
    "import": "import:Import",
    "expand-training": "expand_training:ExpandTraining",
    "zero-insertion": "zero_insertion:ZeroInsertion",
    "zfdr": "zfdr:Zfdr",
    "deform": "deform:Deform",
    "normal-reshape": "normal_reshape:NormalReshape",
    "replicate": "replicate:Replicate",
    "place-3d": "place_3d:Place3d",
    "place-htree": "place_htree:PlaceHtree",
    "emit-fsm": "emit_fsm:EmitFsm",
}

# Passes of the full pipeline that later work adds; named here so errors can say so.
PLANNED = ("expand-training", "zero-insertion", "zfdr", "deform", "normal-reshape", "replicate",
           "place-3d", "place-htree", "emit-fsm")


def get_pass(name: str) -> Pass:
    from lergan_cc.errors import LerganError, did_you_mean

    if name not in REGISTRY:
        if name in PLANNED:
            raise LerganError(f"pass '{name}' is not implemented in this version of lergan_cc")
        known = ", ".join(REGISTRY)
        raise LerganError(f"unknown pass '{name}'{did_you_mean(name, REGISTRY)} (known: {known})")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()

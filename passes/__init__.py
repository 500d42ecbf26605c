"""Every pass, registered by its kebab-case name with a lazy factory.

Each module here is named after its pass (``expand-training`` -> ``expand_training.py``);
the front end is the pass ``import`` (``import.py``, loaded through importlib).
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from lergan_cc.errors import LerganError

if TYPE_CHECKING:
    from lergan_cc.ir.attribute import Attr
    from lergan_cc.pass_base import Pass

# name -> "module:Class", in pipeline order.
REGISTRY: dict[str, str] = {
    "import": "import:Import",
    "expand-training": "expand_training:ExpandTraining",
    "zero-insertion": "zero_insertion:ZeroInsertion",
    "zfdr": "zfdr:Zfdr",
    "deform": "deform:Deform",
    "normal-reshape": "normal_reshape:NormalReshape",
    "replicate": "replicate:Replicate",
    "data-parallel": "data_parallel:DataParallelPass",
    "place-3d": "place_3d:Place3d",
    "place-htree": "place_htree:PlaceHtree",
    "emit-fsm": "emit_fsm:EmitFsm",
}


def get_pass_class(name: str) -> type[Pass]:
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(REGISTRY)})"
        raise LerganError(f"unknown pass '{name}'{hint}")
    module, cls = REGISTRY[name].split(":")
    found: type[Pass] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return found


def providers(attr: type[Attr]) -> list[str]:
    """The passes that provide ``attr``."""
    return [name for name in REGISTRY if attr in get_pass_class(name).provides]

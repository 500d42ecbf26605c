"""IR-independent numeric core of zero-free reshaping (LerGAN ZFDR, ZARA deform, PRIME-like im2col).

The compiler passes ``zero-insertion``, ``zfdr``, ``deform`` and ``normal-reshape`` and
the simulator's functional core are thin wrappers around this package; it needs only
numpy and the standard library. See ``docs/zero-free.md``.
"""

from lergan_cc.zerofree.analysis import ZeroInsertion, analyze
from lergan_cc.zerofree.axis import AxisRelation, Progression, axis_relation
from lergan_cc.zerofree.geometry import (
    ConvGeometry,
    ConvKind,
    GeometryError,
    default_same_pads,
    make_geometry,
    tconv_pads_from_output_shape,
)
from lergan_cc.zerofree.plan import AxisMap, Kind, PlanStats, Rectangle, ReshapePlan
from lergan_cc.zerofree.zfdr import deform, zfdr

__all__ = [
    "AxisMap", "AxisRelation", "ConvGeometry", "ConvKind", "GeometryError", "Kind", "PlanStats", "Progression",
    "Rectangle", "ReshapePlan", "ZeroInsertion", "analyze", "axis_relation", "default_same_pads", "deform",
    "make_geometry", "tconv_pads_from_output_shape", "zfdr",
]

"""IR-independent numeric core of zero-free reshaping (LerGAN ZFDR, ZARA deform, PRIME-like im2col).

The compiler passes ``zero-insertion``, ``zfdr``, ``deform`` and ``normal-reshape`` and
the simulator's functional core are thin wrappers around this package; it needs only
numpy and the standard library. See ``docs/zero-free.md``.
"""

from lergan_cc.zerofree.analysis import ZeroInsertion, analyze
from lergan_cc.zerofree.axis import AxisRelation, Progression, axis_relation
from lergan_cc.zerofree.closed_form import ClosedForm, tconv_closed_form, wconv_s_closed_form
from lergan_cc.zerofree.executor import Execution, execute
from lergan_cc.zerofree.geometry import (
    ConvGeometry,
    ConvKind,
    GeometryError,
    default_same_pads,
    make_geometry,
    tconv_pads_from_output_shape,
)
from lergan_cc.zerofree.matrices import kind_matrix
from lergan_cc.zerofree.normal import NormalPlan, normal_reshape
from lergan_cc.zerofree.plan import AxisMap, Kind, PlanStats, Rectangle, ReshapePlan
from lergan_cc.zerofree.zfdr import deform, zfdr

__all__ = [
    "AxisMap", "AxisRelation", "ClosedForm", "ConvGeometry", "ConvKind", "Execution", "GeometryError", "Kind",
    "NormalPlan", "PlanStats", "Progression", "Rectangle", "ReshapePlan", "ZeroInsertion", "analyze",
    "axis_relation", "default_same_pads", "deform", "execute", "kind_matrix", "make_geometry", "normal_reshape",
    "tconv_closed_form", "tconv_pads_from_output_shape", "wconv_s_closed_form", "zfdr",
]

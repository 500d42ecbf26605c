"""Every typed attribute a pass or front end attaches, registered by its key in the textual IR."""

from lergan_cc.ir.attribute import Attr, AttrError, Fields, Site
from lergan_cc.ir.attrs.mapping import Copy, DataParallel, Placement, PlacementSummary, Replicas, copies_per_phase
from lergan_cc.ir.attrs.model import GanRoles, OutputNames, ReplicaDegree
from lergan_cc.ir.attrs.source import SourceModel, View
from lergan_cc.ir.attrs.zerofree import DenseMatrix, Interface, Reshape, ZeroInsertionFigures, ZfdrSummary

OP_ATTRS: dict[str, type[Attr]] = {
    cls.key: cls for cls in (Interface, ZeroInsertionFigures, ZfdrSummary, Reshape, Replicas, Placement)
}
GRAPH_ATTRS: dict[str, type[Attr]] = {cls.key: cls for cls in (GanRoles, OutputNames, ReplicaDegree,
                                                                DataParallel, PlacementSummary, SourceModel)}

__all__ = [
    "GRAPH_ATTRS", "OP_ATTRS", "Attr", "AttrError", "Copy", "DataParallel", "DenseMatrix", "Fields", "GanRoles",
    "Interface", "OutputNames", "Placement", "PlacementSummary", "ReplicaDegree", "Replicas", "Reshape", "Site",
    "SourceModel", "View", "ZeroInsertionFigures", "ZfdrSummary", "copies_per_phase",
]

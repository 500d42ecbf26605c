"""The graph IR: op records, the graph, its textual form and its verifier."""

from lergan_cc.ir.graph import Graph, Param
from lergan_cc.ir.ops import OP_CLASSES, PHASES, Op, make_op
from lergan_cc.ir.parser import parse_ir, parse_ir_file
from lergan_cc.ir.printer import print_graph

__all__ = ["OP_CLASSES", "PHASES", "Graph", "Op", "Param", "make_op", "parse_ir", "parse_ir_file", "print_graph"]

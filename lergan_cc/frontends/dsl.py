"""The ``.lergan`` DSL front end: lark parse -> typed AST -> model spec -> graph IR.

Three steps, each small:

1. ``grammar/lergan.lark`` parses a file into generic blocks of line statements; the
   Transformer turns them into :class:`Block` / :class:`Stmt` / :class:`Arg` records that
   keep their line and column.
2. The lowering checks every statement against the tables below (which statements a
   block takes, which values each accepts) and produces sized
   :class:`~lergan_cc.frontends.tablev.LayerSpec` lists plus the ops that follow each
   layer (batch-norm, activation). Table V strings go through ``tablev``.
3. :func:`build_net` turns a layer list into a ``Graph(kind="net")``; a GAN is two of
   them joined by :func:`lergan_cc.frontends.gan.make_gan`.

The syntax is documented in ``docs/dsl.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import lark

from lergan_cc.errors import LerganError, SourceError
from lergan_cc.frontends.gan import make_gan
from lergan_cc.frontends.tablev import (
    LayerSpec,
    Shape,
    TopologyError,
    discriminator_layers,
    generator_layers,
    parse_topology,
)
from lergan_cc.ir.attrs import ReplicaDegree
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import BatchNorm, Input, make_op
from lergan_cc.ir.shapes import ShapeError, infer_shape, weight_shape
from lergan_cc.ir.verifier import verify
from lergan_cc.lark_errors import terminal_word
from lergan_cc.limits import to_float, to_int

# ============================================================================ parsing


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    text = resources.files("lergan_cc.grammar").joinpath("lergan.lark").read_text()
    # cache: lark keeps the LALR tables in a temporary file (20 ms of every start-up otherwise)
    return lark.Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False, cache=True)


@dataclass(frozen=True)
class Arg:
    """One statement argument: ``kind`` is word, dims, float, string, arrow, list or call."""

    kind: str
    value: Any  # word/string: str; dims: tuple[int, ...]; float; list: tuple[Arg]; call: (name, tuple[Arg])
    line: int
    column: int


@dataclass(frozen=True)
class Stmt:
    name: str
    args: tuple[Arg, ...]
    line: int
    column: int


@dataclass(frozen=True)
class Block:
    name: str
    body: tuple[Stmt | Block, ...]
    line: int
    column: int


Node = Stmt | Block


def _pos(meta: Any) -> tuple[int, int]:
    return meta.line, meta.column


Items = list[Any]  # ``_ToAst.list`` shadows the builtin in its class body


@lark.v_args(meta=True)
class _ToAst(lark.Transformer):
    """One method per grammar rule, each building a typed node that keeps its position."""

    def start(self, meta: Any, items: list[Any]) -> Block:
        return items[0]

    def block(self, meta: Any, items: list[Any]) -> Block:
        return Block(str(items[0]), tuple(items[1:]), *_pos(meta))

    def stmt(self, meta: Any, items: list[Any]) -> Stmt:
        return Stmt(str(items[0]), tuple(items[1:]), *_pos(meta))

    def word(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("word", str(items[0]), *_pos(meta))

    def dims(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("dims", tuple(to_int(d) for d in str(items[0]).split("x")), *_pos(meta))

    def float(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("float", to_float(str(items[0])), *_pos(meta))

    def string(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("string", str(items[0])[1:-1], *_pos(meta))

    def arrow(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("arrow", "->", *_pos(meta))

    def list(self, meta: Any, items: list[Any]) -> Arg:
        return Arg("list", tuple(items), *_pos(meta))

    def call(self, meta: Any, items: Items) -> Arg:
        return Arg("call", (str(items[0]), tuple(items[1:])), *_pos(meta))


# Terminal names in plain words, for "expected ..." in syntax errors.
TERMINAL_WORDS = {
    "NAME": "a name", "DIMS": "a number or a size like 64x64", "FLOAT": "a decimal number",
    "STRING": "a quoted string", "ARROW": "'->'", "_NL": "end of line", "LBRACE": "'{'", "RBRACE": "'}'",
    "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "$END": "end of file",
}


def parse_dsl(text: str, path: str = "<dsl>") -> Block:
    """Parse DSL text into its top-level block (syntax only; nothing is validated yet)."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as e:
        line, column = _where(e, text)
        raise SourceError(path, line, column, _describe(e)) from None
    try:
        return _ToAst().transform(tree)
    except lark.exceptions.VisitError as e:  # a number past the limits (lergan_cc.limits)
        meta = getattr(e.obj, "meta", None)
        raise SourceError(path, getattr(meta, "line", 1), getattr(meta, "column", 1), str(e.orig_exc)) from None


def _where(e: lark.exceptions.UnexpectedInput, text: str) -> tuple[int, int]:
    at_end = isinstance(e, lark.exceptions.UnexpectedToken) and e.token.type == "$END"
    if getattr(e, "line", -1) > 0 and not at_end:
        return e.line, e.column
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _describe(e: lark.exceptions.UnexpectedInput) -> str:
    if isinstance(e, lark.exceptions.UnexpectedToken):
        got = TERMINAL_WORDS[e.token.type] if e.token.type in ("_NL", "$END") else f"'{e.token}'"
        return f"unexpected {got}; expected {_words(_accepted(e) or e.expected)}"
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}; expected {_words(_accepted(e) or e.allowed)}"
    return "unexpected end of file"


def _accepted(e: lark.exceptions.UnexpectedInput) -> set[str]:
    """The tokens the parser could really take here (LALR's ``expected`` over-approximates)."""
    parser = getattr(e, "interactive_parser", None)
    return set(parser.accepts()) if parser is not None else set()


def _words(names: set[str]) -> str:
    words = sorted({TERMINAL_WORDS.get(n) or terminal_word(n, _parser()) for n in names})
    return words[0] if len(words) == 1 else "one of: " + ", ".join(words)


# ============================================================================ lowering

NetAfter = dict[str, tuple[tuple[str, dict[str, Any]], ...]]  # selector -> post-op chain

# What may follow a layer, and the op-name suffix each takes (at most one of each).
POST_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "batchnorm": ("bn", {}), "relu": ("act", {}), "tanh": ("act", {}), "sigmoid": ("act", {}),
    "leaky_relu": ("act", {"alpha": 0.2}),
}
PostOp = tuple[str, dict[str, float]]
_BN: PostOp = ("batchnorm", {})
_RELU: PostOp = ("relu", {})
_TANH: PostOp = ("tanh", {})
_SIG: PostOp = ("sigmoid", {})
_LRELU: PostOp = ("leaky_relu", {"alpha": 0.2})
# DCGAN's choices (DESIGN §4 leaves them to the DSL); `after` statements override them.
DEFAULT_AFTER: dict[str, NetAfter] = {
    "G": {"hidden": (_BN, _RELU), "output": (_TANH,)},
    "D": {"first": (_LRELU,), "hidden": (_BN, _LRELU), "output": (_SIG,)},
    "N": {},
}
ROLES = ("first", "hidden", "output")
REPLICA_DEGREES = ("low", "middle", "high")
CONV_KEYS = ("kernel", "stride", "pads", "dilation", "group", "weight")
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("weight",), "sconv": CONV_KEYS, "tconv": (*CONV_KEYS, "output_padding"),
}
LAYER_HEAD = ("word", "word", "dims", "arrow", "dims")  # NAME OP IN -> OUT
_LAYER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RESERVED_NAMES = ("input", "noise", "real")
BLOCK_STATEMENTS = ("generator", "discriminator")  # the only statements that may be { } blocks


@dataclass
class Net:
    """A lowered network: its sized layers and its ``after`` choices (selector -> chain)."""

    letter: str
    layers: list[LayerSpec]
    after: NetAfter = field(default_factory=dict)


class _Lowering:
    """Checks statements against the tables and builds the model; errors carry file:line:column."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, at: Node | Arg, message: str) -> SourceError:
        return SourceError(self.path, at.line, at.column, message)

    # ---------------------------------------------------------------- top level

    def model(self, top: Block, model: str) -> Graph:
        builders: dict[str, Callable[[Block, str], Graph]] = {"gan": self.gan, "network": self.network}
        if top.name not in builders:
            raise self.error(top, f"unknown block '{top.name}'; expected a 'gan' or 'network' block")
        return builders[top.name](top, model)

    def network(self, block: Block, model: str) -> Graph:
        stmts = self.statements(block, single=("replica_degree",), multi=("layer", "after"))
        net = self.verbose_net(block, "N", stmts)
        g = build_net(model, net.layers, resolve_after(net))
        self.set_replica(g, stmts)
        return g

    def gan(self, block: Block, model: str) -> Graph:
        stmts = self.statements(block, single=("generator", "discriminator", "item", "item_channels",
                                               "replica_degree"), multi=("after",))
        for role in ("generator", "discriminator"):
            if role not in stmts:
                raise self.error(block, f"the gan block has no '{role}' statement")
        gen, disc = self.gan_nets(block, stmts)
        for stmt in stmts.get("after", []):
            self.gan_after(stmt, gen, disc)
        nets = [build_net(model, n.layers, resolve_after(n)) for n in (gen, disc)]
        self.check_chain(gen, disc, stmts)
        gan = make_gan(nets[0], nets[1], model=model)
        self.set_replica(gan, stmts)
        return gan

    def statements(self, block: Block, single: tuple[str, ...], multi: tuple[str, ...]) -> dict[str, Any]:
        """Group a block's body by statement name: unknown or repeated ones are errors."""
        found: dict[str, Any] = {}
        for node in block.body:
            if node.name not in single + multi:
                kind = "block" if isinstance(node, Block) else "statement"
                raise self.error(node, f"unknown {kind} '{node.name}' in a '{block.name}' block; "
                                       f"expected one of: {', '.join(sorted(single + multi))}")
            if isinstance(node, Block) and node.name not in BLOCK_STATEMENTS:
                raise self.error(node, f"'{node.name}' takes arguments on its line, not a {{ }} block")
            if node.name in multi:
                found.setdefault(node.name, []).append(node)
            elif node.name in found:
                raise self.error(node, f"'{node.name}' is given twice (first at line {found[node.name].line})")
            else:
                found[node.name] = node
        return found

    def set_replica(self, g: Graph, stmts: dict[str, Any]) -> None:
        if "replica_degree" in stmts:
            g.attach(ReplicaDegree(self.choice(stmts["replica_degree"], REPLICA_DEGREES)))

    # ---------------------------------------------------------------- GAN nets

    def gan_nets(self, block: Block, stmts: dict[str, Any]) -> tuple[Net, Net]:
        g_node, d_node = stmts["generator"], stmts["discriminator"]
        strings = [n for n in (g_node, d_node) if isinstance(n, Stmt)]
        item = self.item(block, stmts, needed=bool(strings))
        if "item_channels" in stmts and not isinstance(g_node, Stmt):
            raise self.error(stmts["item_channels"], "'item_channels' only applies to a Table V generator string")
        if isinstance(g_node, Stmt):
            channels = self.positive(stmts["item_channels"]) if "item_channels" in stmts else None
            gen = Net("G", self.topology(g_node, lambda st: generator_layers(st, item, channels, "G")))
        else:
            gen = self.verbose_net(g_node, "G", self.statements(g_node, (), ("layer", "after")))
        if isinstance(d_node, Stmt):
            self.check_item(gen, d_node, stmts, item)
            out = gen.layers[-1].out_shape
            disc = Net("D", self.topology(d_node, lambda st: discriminator_layers(st, out[1:], out[0], "D")))
        else:
            disc = self.verbose_net(d_node, "D", self.statements(d_node, (), ("layer", "after")))
        return gen, disc

    def item(self, block: Block, stmts: dict[str, Any], needed: bool) -> Shape:
        if "item" not in stmts:
            if needed:
                raise self.error(block, "a gan block with Table V strings needs 'item', e.g. 'item 64x64'")
            return ()
        if not needed:
            raise self.error(stmts["item"], "'item' only applies to Table V strings; verbose layers give sizes")
        arg = self.one_arg(stmts["item"], "dims", "a size like 64x64 or 64x64x64")
        if min(arg.value) < 1:
            raise self.error(arg, "item sizes must be positive")
        return tuple(arg.value)

    def topology(self, stmt: Stmt, size: Callable[[Any], list[LayerSpec]]) -> list[LayerSpec]:
        """Parse and size one Table V string; errors point into the string itself."""
        arg = self.one_arg(stmt, "string", 'a Table V string like "100f-(1024t-512t)(5k2s)-t3" or a { } block')
        try:
            return size(parse_topology(arg.value))
        except TopologyError as e:
            raise SourceError(self.path, arg.line, arg.column + 1 + e.offset, str(e)) from None

    def check_item(self, gen: Net, d_node: Stmt, stmts: dict[str, Any], item: Shape) -> None:
        """The generator's output must be the discriminator's item (the 3D-GAN strings are not)."""
        out = gen.layers[-1].out_shape
        if out[1:] != item:
            raise self.error(stmts["item"], f"the generator produces {_fmt(out)}, not item {_fmt(item)}")
        arg = self.one_arg(d_node, "string", "a Table V string")
        try:
            first = parse_topology(arg.value)[0]
        except TopologyError as e:
            raise SourceError(self.path, arg.line, arg.column + 1 + e.offset, str(e)) from None
        if first.letter != "f" and first.count != out[0]:
            raise SourceError(self.path, arg.line, arg.column + 1 + first.offset,
                              f"the Table V strings do not chain: the discriminator starts with {first.count} maps "
                              f"('{first.count}{first.letter}') but the generator ends with {out[0]}; add "
                              f"'item_channels {first.count}' to the gan block to override the generator's output maps")

    def check_chain(self, gen: Net, disc: Net, stmts: dict[str, Any]) -> None:
        out, inp = gen.layers[-1].out_shape, disc.layers[0].in_shape
        if out != inp:
            at = stmts["discriminator"]
            raise self.error(at, f"the generator produces {_fmt(out)} but the discriminator reads {_fmt(inp)}")

    # ---------------------------------------------------------------- verbose nets

    def verbose_net(self, block: Block, letter: str, stmts: dict[str, Any]) -> Net:
        layers: list[LayerSpec] = []
        for stmt in stmts.get("layer", []):
            layers.append(self.layer(stmt, layers))
        if not layers:
            raise self.error(block, f"the '{block.name}' block has no layers")
        net = Net(letter, layers)
        for stmt in stmts.get("after", []):
            self.net_after(stmt, net)
        return net

    def layer(self, stmt: Stmt, before: list[LayerSpec]) -> LayerSpec:
        """``layer NAME OP IN -> OUT [key value]...``: checked against the chain and the shape rules."""
        a = stmt.args
        bad = [x for x, kind in zip(a, LAYER_HEAD, strict=False) if x.kind != kind]
        if bad or len(a) < len(LAYER_HEAD):
            raise self.error(bad[0] if bad else stmt,
                             "expected 'layer NAME OP IN -> OUT', e.g. 'layer G2 tconv 1024x4x4 -> 512x8x8'")
        name, op, ins, outs = a[0].value, a[1], a[2], a[4]
        self.layer_name(a[0], before)
        for size in (ins, outs):
            if min(size.value) < 1:
                raise self.error(size, f"layer {name}: sizes must be positive, got {_fmt(size.value)}")
        if op.value not in LAYER_KEYS:
            raise self.error(op, f"unknown layer op '{op.value}'; expected one of: {', '.join(LAYER_KEYS)}")
        if before and before[-1].out_shape != ins.value:
            raise self.error(ins, f"layer {name} reads {_fmt(ins.value)} but the previous layer "
                                  f"({before[-1].name}) produces {_fmt(before[-1].out_shape)}")
        keys = self.keywords(stmt, a[5:], LAYER_KEYS[op.value])
        spec = LayerSpec(name, op.value, ins.value, outs.value, offset=stmt.column)
        if op.value == "dense":
            return self.dense_layer(stmt, spec, keys)
        return self.conv_layer(stmt, spec, keys, outs)

    def layer_name(self, arg: Arg, before: list[LayerSpec]) -> None:
        if not _LAYER_NAME.match(arg.value) or arg.value in RESERVED_NAMES:
            raise self.error(arg, f"'{arg.value}' cannot name a layer (letters, digits and '_'; not "
                                  f"{', '.join(RESERVED_NAMES)})")
        if any(s.name == arg.value for s in before):
            raise self.error(arg, f"layer '{arg.value}' is defined twice")

    def keywords(self, stmt: Stmt, rest: tuple[Arg, ...], allowed: tuple[str, ...]) -> dict[str, Arg]:
        keys: dict[str, Arg] = {}
        for i in range(0, len(rest), 2):
            key = rest[i]
            if key.kind != "word" or key.value not in allowed:
                raise self.error(key, f"unexpected {_show(key)} in a {stmt.args[1].value} layer; "
                                      f"expected one of: {', '.join(allowed)}")
            if i + 1 == len(rest):
                raise self.error(key, f"'{key.value}' needs a value")
            if key.value in keys:
                raise self.error(key, f"'{key.value}' is given twice")
            keys[key.value] = rest[i + 1]
        return keys

    def dense_layer(self, stmt: Stmt, spec: LayerSpec, keys: dict[str, Arg]) -> LayerSpec:
        if "weight" in keys:
            w = self.sized(keys["weight"], 2)
            if w != (math.prod(spec.in_shape), math.prod(spec.out_shape)):
                raise self.error(keys["weight"], f"a dense layer {_fmt(spec.in_shape)} -> {_fmt(spec.out_shape)} "
                                                 f"has weight {math.prod(spec.in_shape)}x{math.prod(spec.out_shape)}")
        return spec

    def conv_layer(self, stmt: Stmt, spec: LayerSpec, keys: dict[str, Arg], outs: Arg) -> LayerSpec:
        rank = len(spec.in_shape) - 1
        if rank < 1 or len(spec.out_shape) != rank + 1:
            raise self.error(stmt, f"a {spec.op} needs CxS... sizes of the same rank, got "
                                   f"{_fmt(spec.in_shape)} -> {_fmt(spec.out_shape)}")
        if "kernel" not in keys and "weight" not in keys:
            raise self.error(stmt, f"layer {spec.name} needs 'kernel' (e.g. kernel 5x5) or 'weight'")
        kernel = self.sized(keys["kernel"], rank) if "kernel" in keys else self.sized(keys["weight"], rank + 2)[2:]
        group = self.positive(keys["group"]) if "group" in keys else 1
        spec = replace(spec, kernel=kernel, group=group, stride=self.axes(keys, "stride", rank, 1),
                       dilation=self.axes(keys, "dilation", rank, 1), pads=self.pads(keys, rank),
                       output_padding=self.axes(keys, "output_padding", rank, 0) if spec.op == "tconv" else ())
        op = _main_op(spec, "x")
        try:
            got = infer_shape(op, [spec.in_shape])
        except ShapeError as e:
            raise self.error(stmt, f"layer {spec.name}: {e}") from None
        if got != spec.out_shape:
            raise self.error(outs, f"layer {spec.name} produces {_fmt(got)} with these kernel, stride and pads, "
                                   f"not {_fmt(spec.out_shape)}")
        if "weight" in keys and self.sized(keys["weight"], rank + 2) != weight_shape(op, spec.in_shape[0]):
            raise self.error(keys["weight"], f"layer {spec.name} has weight {_fmt(weight_shape(op, spec.in_shape[0]))}")
        return spec

    def axes(self, keys: dict[str, Arg], key: str, rank: int, default: int) -> Shape:
        if key not in keys:
            return (default,) * rank
        arg = keys[key]
        values = self.ints(arg) if arg.kind == "list" else arg.value if arg.kind == "dims" else ()
        if len(values) not in (1, rank):
            raise self.error(arg, f"'{key}' takes one number or {rank} numbers like "
                                  f"{'x'.join(['2'] * rank)} or [{', '.join(['2'] * rank)}]")
        return tuple(values) * (rank if len(values) == 1 else 1)

    def pads(self, keys: dict[str, Arg], rank: int) -> Shape:
        """``pads P`` (everywhere), ``pads [p0, p1]`` (per axis) or ``pads [b0, b1, e0, e1]`` (ONNX order)."""
        if "pads" not in keys:
            return (0,) * 2 * rank
        arg = keys["pads"]
        if arg.kind == "dims" and len(arg.value) == 1:
            return arg.value * 2 * rank
        values = self.ints(arg) if arg.kind == "list" else ()
        if len(values) == rank:
            return values * 2
        if len(values) == 2 * rank:
            return values
        raise self.error(arg, f"'pads' takes one number, [{rank} numbers] (per axis) or "
                              f"[{2 * rank} numbers] (begins then ends, ONNX order)")

    def ints(self, arg: Arg) -> Shape:
        for x in arg.value:
            if x.kind != "dims" or len(x.value) != 1:
                raise self.error(x, f"expected a whole number, got {_show(x)}")
        return tuple(x.value[0] for x in arg.value)

    def sized(self, arg: Arg, n: int) -> Shape:
        if arg.kind != "dims" or len(arg.value) not in (1, n) or min(arg.value) < 1:
            raise self.error(arg, f"expected {n} positive sizes like {'x'.join(['5'] * n)}, got {_show(arg)}")
        return tuple(arg.value) * (n if len(arg.value) == 1 else 1)

    # ---------------------------------------------------------------- after

    def net_after(self, stmt: Stmt, net: Net) -> None:
        sel = self.selector_arg(stmt)
        if sel.value not in ROLES and sel.value not in {s.name for s in net.layers}:
            raise self.error(sel, f"unknown selector '{sel.value}'; expected {', '.join(ROLES)} or a layer name "
                                  f"({', '.join(s.name for s in net.layers)})")
        self.set_after(net, sel.value, stmt)

    def gan_after(self, stmt: Stmt, gen: Net, disc: Net) -> None:
        sel = self.selector_arg(stmt)
        nets = {"G": gen, "D": disc}
        prefix, _, role = sel.value.partition(".")
        if prefix in nets and role in ROLES:
            return self.set_after(nets[prefix], role, stmt)
        owners = [n for n in (gen, disc) if sel.value in {s.name for s in n.layers}]
        if len(owners) != 1:
            raise self.error(sel, f"unknown selector '{sel.value}'; expected G.first, G.hidden, G.output, D.first, "
                                  "D.hidden, D.output or a layer name (G1, D3, ...)")
        return self.set_after(owners[0], sel.value, stmt)

    def selector_arg(self, stmt: Stmt) -> Arg:
        if not stmt.args or stmt.args[0].kind != "word":
            raise self.error(stmt, "expected 'after SELECTOR OP...', e.g. 'after D.hidden batchnorm leaky_relu(0.2)'")
        return stmt.args[0]

    def set_after(self, net: Net, selector: str, stmt: Stmt) -> None:
        if selector in net.after:
            raise self.error(stmt, f"'after {selector}' is given twice")
        net.after[selector] = self.chain(stmt, stmt.args[1:])

    def chain(self, stmt: Stmt, args: tuple[Arg, ...]) -> tuple[tuple[str, dict[str, Any]], ...]:
        """``none`` or up to one ``batchnorm`` and one activation, in the order written."""
        if len(args) == 1 and args[0].kind == "word" and args[0].value == "none":
            return ()
        if not args:
            raise self.error(stmt, f"'after' needs ops: none or some of {', '.join(POST_OPS)}")
        chain, suffixes = [], set()
        for arg in args:
            name, attrs = self.post_op(arg)
            suffix = POST_OPS[name][0]
            if suffix in suffixes:
                raise self.error(arg, "at most one batchnorm and one activation may follow a layer")
            suffixes.add(suffix)
            chain.append((name, attrs))
        return tuple(chain)

    def post_op(self, arg: Arg) -> tuple[str, dict[str, Any]]:
        name, params = (arg.value, ()) if arg.kind == "word" else arg.value if arg.kind == "call" else ("", ())
        if name not in POST_OPS:
            raise self.error(arg, f"unknown op {_show(arg)} after a layer; expected none or one of: "
                                  f"{', '.join(POST_OPS)}")
        defaults = POST_OPS[name][1]
        if len(params) > len(defaults):
            raise self.error(arg, f"'{name}' takes {len(defaults)} argument(s)")
        attrs = dict(defaults)
        for key, p in zip(defaults, params):  # noqa: B905 (params may be shorter)
            if p.kind not in ("float", "dims") or (p.kind == "dims" and len(p.value) != 1):
                raise self.error(p, f"'{name}' takes a number, got {_show(p)}")
            attrs[key] = float(p.value if p.kind == "float" else p.value[0])
        return name, attrs

    # ---------------------------------------------------------------- values

    def one_arg(self, stmt: Stmt | Block, kind: str, what: str) -> Arg:
        if isinstance(stmt, Block) or len(stmt.args) != 1 or stmt.args[0].kind != kind:
            at = stmt.args[0] if isinstance(stmt, Stmt) and stmt.args else stmt
            raise self.error(at, f"'{stmt.name}' takes {what}")
        return stmt.args[0]

    def choice(self, stmt: Stmt, choices: tuple[str, ...]) -> str:
        arg = self.one_arg(stmt, "word", " or ".join(choices))
        if arg.value not in choices:
            raise self.error(arg, f"unknown {stmt.name} '{arg.value}'; expected one of: {', '.join(choices)}")
        return arg.value

    def positive(self, node: Stmt | Arg) -> int:
        arg = self.one_arg(node, "dims", "a positive whole number") if isinstance(node, Stmt) else node
        if arg.kind != "dims" or len(arg.value) != 1 or arg.value[0] < 1:
            raise self.error(arg, f"expected a positive whole number, got {_show(arg)}")
        return arg.value[0]


def _fmt(shape: Shape) -> str:
    return "x".join(map(str, shape))


def _show(arg: Arg) -> str:
    plain: dict[str, Callable[[Any], str]] = {"dims": _fmt, "word": str, "string": lambda v: f'"{v}"', "arrow": str}
    return f"'{plain[arg.kind](arg.value)}'" if arg.kind in plain else f"a {arg.kind}"


def resolve_after(net: Net) -> list[tuple[tuple[str, dict[str, Any]], ...]]:
    """The ops after each layer: by layer name, else output/first role, else hidden."""
    table = {**DEFAULT_AFTER[net.letter], **net.after}
    n = len(net.layers)
    chains = []
    for j, spec in enumerate(net.layers):
        roles = [spec.name, "output" if j == n - 1 else "", "first" if j == 0 else "", "hidden"]
        chains.append(next((table[r] for r in roles if r in table), ()))
    return chains


# ============================================================================ building


def build_net(model: str, layers: list[LayerSpec], after: list[tuple[tuple[str, dict[str, Any]], ...]]) -> Graph:
    """A ``Graph(kind="net")`` in phase ``fwd`` with one ``input`` op, from sized layers."""
    g = Graph(model=model, kind="net")
    x = g.add(Input(name="input", layer="input", phase="fwd", inputs=(), shape=layers[0].in_shape)).name
    for spec, chain in zip(layers, after, strict=True):
        x = _add_layer(g, spec, x)
        for op_name, attrs in chain:
            x = _add_post(g, spec.name, op_name, attrs, x)
    g.outputs = [x]
    return g


def _main_op(spec: LayerSpec, x: str) -> Any:
    common = dict(name=spec.name, layer=spec.name, phase="fwd", inputs=(x,), weight=f"{spec.name}.weight",
                  bias=f"{spec.name}.bias")
    if spec.op == "dense":
        return make_op("dense", **common, shape=(math.prod(spec.out_shape),), units=math.prod(spec.out_shape))
    attrs = dict(out_channels=spec.out_shape[0], kernel=spec.kernel, stride=spec.stride, pads=spec.pads,
                 dilation=spec.dilation, group=spec.group)
    if spec.op == "tconv":
        attrs["output_padding"] = spec.output_padding
    return make_op(spec.op, **common, **attrs, shape=spec.out_shape)


def _add_layer(g: Graph, spec: LayerSpec, x: str) -> str:
    """The layer's main op, with ``flatten`` before a dense on a spatial input and ``reshape`` after
    a dense that feeds a spatial stage."""
    if spec.op == "dense" and len(spec.in_shape) > 1:
        x = _add(g, "flatten", f"{spec.name}.flatten", spec.name, x, (math.prod(spec.in_shape),))
    op = _main_op(spec, x)
    in_shape = g.op(x).shape
    g.add(op)
    g.add_param(f"{spec.name}.weight", _weight(op, spec, in_shape))
    g.add_param(f"{spec.name}.bias", (op.shape[0] if spec.op == "dense" else spec.out_shape[0],))
    x = op.name
    if spec.op == "dense" and len(spec.out_shape) > 1:
        x = _add(g, "reshape", f"{spec.name}.reshape", spec.name, x, spec.out_shape)
    return x


def _weight(op: Any, spec: LayerSpec, in_shape: Shape) -> Shape:
    return (in_shape[0], op.units) if spec.op == "dense" else weight_shape(op, in_shape[0])


def _add(g: Graph, op: str, name: str, layer: str, x: str, shape: Shape, **attrs: Any) -> str:
    return g.add(make_op(op, name=name, layer=layer, phase="fwd", inputs=(x,), shape=shape, **attrs)).name


def _add_post(g: Graph, layer: str, op_name: str, attrs: dict[str, Any], x: str) -> str:
    shape = g.op(x).shape
    if op_name == "batchnorm":
        name = f"{layer}.bn"
        scale, bias, mean, var = (g.add_param(f"{name}.{k}", (shape[0],)) for k in ("scale", "bias", "mean", "var"))
        return g.add(BatchNorm(name=name, layer=layer, phase="fwd", inputs=(x,), shape=shape, scale=scale, bias=bias,
                               mean=mean, var=var)).name
    return _add(g, op_name, f"{layer}.act", layer, x, shape, **attrs)


# ============================================================================ entry point


def load_dsl(path: str) -> Graph:
    """Read a ``.lergan`` file into verified graph IR; the model is named after the file stem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise LerganError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise LerganError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return loads_dsl(text, path)


def loads_dsl(text: str, path: str = "<dsl>") -> Graph:
    """Parse DSL text; ``path`` names it in diagnostics and gives the model name (its stem)."""
    g = _Lowering(path).model(parse_dsl(text, path), Path(path).stem)
    verify(g)
    return g

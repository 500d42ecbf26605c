"""The paper's Table V topology strings -> sized layer specifications (DESIGN §4).

A string such as ``100f-(1024t-512t-256t-128t)(5k2s)-t3`` lists feature-map *stages*.
The layer between stage i and stage i+1 has stage i's letter (``f`` dense, ``c``
convolution, ``t`` transposed convolution) and kernel/stride, and maps stage i's count
to stage i+1's count; a final ``fN`` is instead a dense layer to N outputs, and a final
``tN``/``cN`` only gives the last layer's output maps. The discriminator is sized
forward from the item, the generator backward from it. Padding follows the "same" rule
of :func:`lergan_cc.zerofree.default_same_pads`.

This module knows nothing about the DSL's syntax or the graph IR: it returns plain
:class:`LayerSpec` records, and reports problems as :class:`TopologyError` with the
character offset inside the string, which the DSL turns into a file:line:column.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass

from lergan_cc.zerofree.geometry import default_same_pads

Shape = tuple[int, ...]
LETTER_OP = {"f": "dense", "c": "sconv", "t": "tconv"}


class TopologyError(ValueError):
    """A problem at character ``offset`` of a topology string."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Stage:
    """One token: ``count`` feature maps; ``letter``, kernel and stride of the layer it starts."""

    count: int
    letter: str
    kernel: int | None
    stride: int | None
    offset: int
    final: bool = False  # written letter-first: t3, f1


@dataclass(frozen=True)
class LayerSpec:
    """One layer, fully sized: shapes per sample (channels, spatial...), ONNX-style attributes."""

    name: str
    op: str  # dense | sconv | tconv
    in_shape: Shape
    out_shape: Shape
    kernel: Shape = ()
    stride: Shape = ()
    pads: Shape = ()
    output_padding: Shape = ()
    dilation: Shape = ()
    group: int = 1
    offset: int = 0  # where the layer is written (character offset or source column)


# ----------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"(\d+)([fct])(?:(\d+)k)?(?:(\d+)s)?")
_FINAL = re.compile(r"([fct])(\d+)")
_SUFFIX = re.compile(r"\((?:(\d+)k)?(?:(\d+)s)?\)")


def parse_topology(text: str) -> list[Stage]:
    """Split a Table V string into stages, resolving group suffixes ``(a-b)(5k2s)``."""
    stages: list[Stage] = []
    pos = 0
    while True:
        if text.startswith("(", pos):
            group, pos = _group(text, pos)
            stages += group
        else:
            stage, pos = _token(text, pos, last_allowed=True)
            stages.append(stage)
        if pos == len(text):
            break
        if stages[-1].final or not text.startswith("-", pos):
            raise TopologyError(pos, f"expected '-' between stages, got {text[pos:pos + 1]!r}")
        pos += 1
    if len(stages) < 2:
        raise TopologyError(0, "a topology needs at least two stages (one layer)")
    return stages


def _token(text: str, pos: int, last_allowed: bool) -> tuple[Stage, int]:
    m = _TOKEN.match(text, pos)
    if m:
        count, letter, k, s = m.groups()
        if letter == "f" and (k or s):
            raise TopologyError(pos, f"a dense stage '{m.group()}' takes no kernel or stride")
        return Stage(_count(count, pos), letter, _int(k, pos, "a kernel size"),
                     _int(s, pos, "a stride"), pos), m.end()
    m = _FINAL.match(text, pos)
    if m and last_allowed:
        return Stage(_count(m.group(2), pos), m.group(1), None, None, pos, final=True), m.end()
    raise TopologyError(pos, "expected a stage like '512t', '512t5k2s', a group '(a-b)(5k2s)' or a final 't3'/'f1'")


def _group(text: str, pos: int) -> tuple[list[Stage], int]:
    start, pos = pos, pos + 1
    members: list[Stage] = []
    while True:
        stage, pos = _token(text, pos, last_allowed=False)
        members.append(stage)
        if text.startswith(")", pos):
            break
        if not text.startswith("-", pos):
            raise TopologyError(pos, "expected '-' or ')' inside a group")
        pos += 1
    m = _SUFFIX.match(text, pos + 1)
    if not m or not any(m.groups()):
        raise TopologyError(pos + 1, f"group at {start + 1} needs a shared suffix like '(5k2s)'")
    k, s = _int(m.group(1), pos + 1, "a kernel size"), _int(m.group(2), pos + 1, "a stride")
    shared = [Stage(st.count, st.letter, st.kernel or k, st.stride or s, st.offset) for st in members]
    return shared, m.end()


MAX_DIGITS = 9  # counts, kernels and strides of a real network have a few digits


def _count(s: str, offset: int) -> int:
    value = _int(s, offset, "a stage's count")
    assert value is not None
    return value


def _int(s: str | None, offset: int, what: str) -> int | None:
    """A count, kernel size or stride: at least 1 (``0t``, ``0k``, ``0s`` are errors, not defaults)."""
    if s is None:
        return None
    if len(s) > MAX_DIGITS:
        raise TopologyError(offset, f"{what} of {len(s)} digits is out of range (at most {MAX_DIGITS} digits)")
    if int(s) < 1:
        raise TopologyError(offset, f"{what} must be at least 1, got {int(s)}")
    return int(s)


# ----------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class _Layer:
    op: str
    cin: int
    cout: int
    kernel: int
    stride: int
    offset: int


def _layers(stages: list[Stage]) -> list[_Layer]:
    """Layer i sits between stage i and i+1 (DESIGN §4), with the final-token exceptions."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(stages)):
        if a.letter == "f" or (b.final and b.letter == "f"):
            layers.append(_Layer("dense", a.count, b.count, 0, 0, a.offset))
            continue
        if a.kernel is None:
            tok = f"{a.count}{a.letter}"
            raise TopologyError(a.offset, f"stage '{tok}' starts layer {i + 1} but has no kernel size: "
                                          f"write e.g. '{tok}4k2s' or share a group suffix '(...)(4k2s)'")
        layers.append(_Layer(LETTER_OP[a.letter], a.count, b.count, a.kernel, a.stride or 1, a.offset))
    return layers


def _conv_spec(name: str, ly: _Layer, sp_in: Shape, sp_out: Shape) -> LayerSpec:
    d = len(sp_in)
    if ly.op == "tconv":
        pb, pe, op = default_same_pads("tconv", 1, ly.kernel, ly.stride)
        pads, opad = (pb,) * d + (pe,) * d, (op,) * d
    else:
        pairs = [default_same_pads("sconv", i, ly.kernel, ly.stride) for i in sp_in]
        pads, opad = tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs), ()
    return LayerSpec(name, ly.op, (ly.cin, *sp_in), (ly.cout, *sp_out), kernel=(ly.kernel,) * d,
                     stride=(ly.stride,) * d, pads=pads, output_padding=opad, dilation=(1,) * d,
                     offset=ly.offset)


def _shape(count: int, spatial: Shape | None) -> Shape:
    return (count,) if spatial is None else (count, *spatial)


def _fmt(spatial: Shape) -> str:
    return "x".join(map(str, spatial))


def generator_layers(stages: list[Stage], item: Shape, out_channels: int | None = None,
                     prefix: str = "G") -> list[LayerSpec]:
    """Size a generator backward from the item: a ``t`` layer divides by its stride, a ``c``
    layer multiplies; the stage feeding a dense layer is 1x1 (flat when it is the noise)."""
    layers = _layers(stages)
    if out_channels is not None:
        last = layers[-1]
        layers[-1] = _Layer(last.op, last.cin, out_channels, last.kernel, last.stride, last.offset)
    if layers[-1].op == "dense":
        raise TopologyError(stages[-1].offset, "a generator must end with a 't' or 'c' layer that produces the item")
    sp: list[Shape | None] = [None] * len(layers) + [item]
    for j in reversed(range(len(layers))):
        sp[j] = _backward(prefix, j, layers, sp[j + 1], item)
    return _specs(layers, sp, prefix)


def _backward(prefix: str, j: int, layers: list[_Layer], out: Shape | None, item: Shape) -> Shape | None:
    """The input stage's spatial size of generator layer j, from its output stage's (None: flat)."""
    ly = layers[j]
    if ly.op == "dense":
        return None if j == 0 or layers[j - 1].op == "dense" else (1,) * len(item)
    assert out is not None  # only a dense layer's output stage can be flat, and only when it feeds a dense
    if ly.op == "sconv":
        return tuple(o * ly.stride for o in out)
    if any(o % ly.stride for o in out):
        raise TopologyError(ly.offset, f"{prefix}{j + 1}: output size {_fmt(out)} is not divisible by its "
                                       f"stride {ly.stride}, so the generator cannot reach item {_fmt(item)}")
    return tuple(o // ly.stride for o in out)


def discriminator_layers(stages: list[Stage], item: Shape, channels: int, prefix: str = "D") -> list[LayerSpec]:
    """Size a discriminator forward from the item of ``channels`` maps (the generator's output).

    A leading ``Nf`` reads the flattened item, so N must be its element count.
    """
    layers = _layers(stages)
    first = layers[0]
    if first.op == "dense" and first.cin != channels * math.prod(item):
        raise TopologyError(first.offset, f"the first stage '{first.cin}f' reads the flattened item "
                                          f"{channels}x{_fmt(item)}: it must have {channels * math.prod(item)} units")
    if first.op != "dense" and first.cin != channels:
        raise TopologyError(first.offset, f"the item has {channels} maps, not {first.cin}")
    sp: list[Shape | None] = [item] + [None] * len(layers)
    for j, ly in enumerate(layers):
        sp[j + 1] = _forward(prefix, j, ly, sp[j], layers, item)
    specs = _specs(layers, sp, prefix)
    if first.op == "dense":  # reads the item itself; the builder flattens it
        specs[0] = dataclasses.replace(specs[0], in_shape=(channels, *item))
    return specs


def _forward(prefix: str, j: int, ly: _Layer, sp: Shape | None, layers: list[_Layer], item: Shape) -> Shape | None:
    if ly.op == "dense":
        feeds_dense = j + 1 == len(layers) or layers[j + 1].op == "dense"
        return None if feeds_dense else (1,) * len(item)
    assert sp is not None
    if ly.op == "tconv":
        return tuple(i * ly.stride for i in sp)
    if any(i % ly.stride for i in sp):
        raise TopologyError(ly.offset, f"{prefix}{j + 1}: input size {_fmt(sp)} is not divisible by its "
                                       f"stride {ly.stride} (item {_fmt(item)})")
    return tuple(i // ly.stride for i in sp)


def _specs(layers: list[_Layer], sp: list[Shape | None], prefix: str) -> list[LayerSpec]:
    specs = []
    for j, ly in enumerate(layers):
        name = f"{prefix}{j + 1}"
        if ly.op == "dense":
            specs.append(LayerSpec(name, "dense", _shape(ly.cin, sp[j]), _shape(ly.cout, sp[j + 1]),
                                   offset=ly.offset))
        else:
            sp_in, sp_out = sp[j], sp[j + 1]
            assert sp_in is not None and sp_out is not None
            specs.append(_conv_spec(name, ly, sp_in, sp_out))
    return specs

"""The .lergan DSL front end: the Table V benchmarks, the verbose form, the padding rule, errors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lergan_cc.cli.lerganc import main as lerganc
from lergan_cc.errors import LerganError, SourceError
from lergan_cc.frontends.dsl import load_dsl, loads_dsl, parse_dsl
from lergan_cc.ir.attrs import GanRoles, ReplicaDegree
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.parser import parse_ir
from lergan_cc.ir.printer import print_graph
from lergan_cc.ir.shapes import conv_spatial
from lergan_cc.ir.verifier import verify
from lergan_cc.zerofree import default_same_pads

EXAMPLES = Path(__file__).parent.parent / "examples"
# name -> (main layers of G, of D, generator input shape) as Table V implies them
BENCHMARKS = {
    "dcgan": (5, 5, (100,)),
    "cgan": (4, 4, (100,)),
    "3dgan": (4, 5, (100,)),
    "artgan_cifar10": (6, 6, (100,)),
    "gpgan": (5, 5, (100,)),
    "magan_mnist": (3, 4, (50,)),
    "discogan_4pairs": (8, 5, (3, 64, 64)),
    "discogan_5pairs": (10, 5, (3, 32, 32)),
}
ALL = sorted(p.stem for p in EXAMPLES.glob("*.lergan"))
MAIN_OPS = ("dense", "sconv", "tconv")

DCGAN = """gan {
  generator     "100f-(1024t-512t-256t-128t)(5k2s)-t3"
  discriminator "(3c-128c-256c-512c-1024c)(5k2s)-f1"
  item 64x64
%s}
"""
DCGAN_TEXT = DCGAN % ""


def load(name: str) -> Graph:
    return load_dsl(str(EXAMPLES / f"{name}.lergan"))


def main_ops(g: Graph, phase: str) -> list:
    return [op for op in g.ops() if op.phase == phase and op.OP in MAIN_OPS]


def item_of(name: str) -> tuple[int, ...]:
    block = parse_dsl((EXAMPLES / f"{name}.lergan").read_text())
    (stmt,) = [s for s in block.body if s.name == "item"]
    return stmt.args[0].value


# ----------------------------------------------------------------------------- examples


def test_all_benchmarks_have_examples() -> None:
    assert set(BENCHMARKS) <= set(ALL)
    assert {"dcgan_verbose", "tiny_asym"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_example_imports_verifies_and_round_trips(name: str) -> None:
    g = load(name)
    verify(g)
    assert g.model == name and not g.tensors
    text = print_graph(g)
    assert print_graph(parse_ir(text)) == text


@pytest.mark.parametrize("name", ALL)
def test_layers_chain_without_gaps(name: str) -> None:
    """Each network is one straight chain from its input to its output."""
    g = load(name)
    for inp in g.inputs():
        op, seen = inp, [inp.name]
        while consumers := g.consumers(op.name):
            assert len(consumers) == 1 and consumers[0].inputs == (op.name,)
            op = consumers[0]
            assert op.phase == inp.phase
            seen.append(op.name)
        assert op.name in g.outputs
    assert sum(1 for _ in g.ops()) == len({n for n in g.nx})


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_structure(name: str) -> None:
    n_gen, n_disc, noise = BENCHMARKS[name]
    g = load(name)
    gen, disc = main_ops(g, "G_fwd"), main_ops(g, "D_fwd")
    assert [op.name for op in gen] == [f"G{i}" for i in range(1, n_gen + 1)]
    assert [op.name for op in disc] == [f"D{i}" for i in range(1, n_disc + 1)]
    assert g.op("noise").shape == noise
    item = item_of(name)
    out = g.op(g.outputs[0]).shape
    assert out[1:] == item, "the generator ends at its item size"
    assert g.op("real").shape == out
    assert disc[-1].OP == "dense" and g.op(g.outputs[1]).OP == "sigmoid"


def test_dcgan_g2_is_the_papers_conv1() -> None:
    g = load("dcgan")
    g2 = g.op("G2")
    assert g2.OP == "tconv" and g2.layer == "G2" and g2.phase == "G_fwd"
    assert g.input_shapes(g2) == [(1024, 4, 4)] and g2.shape == (512, 8, 8)
    assert (g2.kernel, g2.stride, g2.pads, g2.output_padding) == ((5, 5), (2, 2), (2, 2, 2, 2), (1, 1))
    assert g.params["G/G2.weight"].shape == (1024, 512, 5, 5)
    assert g.op("G1.reshape").shape == (1024, 4, 4) and g.op("G1").units == 16384
    assert g.op("D5.flatten").shape == (16384,) and g.op("D5").layer == "D5"


def test_dcgan_auxiliary_ops_and_params() -> None:
    g = load("dcgan")
    ops = {op.name: op for op in g.ops()}
    assert ops["G2.bn"].OP == "batchnorm" and ops["G2.act"].OP == "relu" and ops["G5.act"].OP == "tanh"
    assert ops["D1.act"].OP == "leaky_relu" and ops["D1.act"].alpha == 0.2 and "D1.bn" not in ops
    assert ops["D2.bn"].layer == "D2" and ops["D5.act"].OP == "sigmoid"
    assert {"G/G1.bn.scale", "G/G1.bn.var", "D/D5.weight", "D/D5.bias"} <= set(g.params)
    assert g.need(ReplicaDegree).degree == "low"


def test_verbose_dcgan_builds_the_same_ir() -> None:
    def body(name: str) -> list[str]:
        return print_graph(load(name)).splitlines()[2:]  # skip the header and the model name line

    assert body("dcgan_verbose") == body("dcgan")


def test_discogan_5pairs_bottleneck_is_1x1() -> None:
    g = load("discogan_5pairs")
    assert g.op("G5").shape == (100, 1, 1) and g.op("G6.flatten").shape == (100,)
    assert g.op("G6.reshape").shape == (512, 4, 4)


def test_magan_discriminator_reads_the_flattened_item() -> None:
    g = load("magan_mnist")
    assert g.op("real").shape == (1, 28, 28) and g.op("D1.flatten").shape == (784,)
    assert g.op("G2").pads == (3, 3, 3, 3) and g.op("G2").shape == (64, 14, 14)


def test_3dgan_uses_3d_convs_and_item_channels() -> None:
    g = load("3dgan")
    assert g.op("G4").kernel == (4, 4, 4) and g.op("G4").shape == (1, 64, 64, 64)
    assert g.op("D1").stride == (2, 2, 2) and g.op("real").shape == (1, 64, 64, 64)


def test_artgan_stride1_tconv_gets_asymmetric_pads() -> None:
    g = load("artgan_cifar10")
    assert g.op("G2").pads == (1, 1, 2, 2) and g.op("G2").output_padding == (0, 0)
    assert g.op("D6").units == 11


def test_single_network_is_a_net_in_phase_fwd() -> None:
    g = load("tiny_asym")
    assert g.kind == "net" and {op.phase for op in g.ops()} == {"fwd"}
    assert g.op("enc2").pads == (0, 1, 2, 1) and g.op("enc2").group == 4
    assert g.op("dec1").output_padding == (1, 0) and g.op("mid").dilation == (2, 2)
    assert g.op("enc1.act").alpha == 0.1 and g.op("mid.act").OP == "relu"
    assert g.op(g.outputs[0]).OP == "dense" and g.need(ReplicaDegree).degree == "middle"


# ----------------------------------------------------------------------------- after


def test_after_overrides_defaults() -> None:
    g = loads_dsl(DCGAN % "  after G.hidden leaky_relu(0.1)\n  after D.output none\n  after G3 batchnorm\n",
                  "x.lergan")
    ops = {op.name: op for op in g.ops()}
    assert ops["G2.act"].OP == "leaky_relu" and ops["G2.act"].alpha == 0.1 and "G2.bn" not in ops
    assert "G3.act" not in ops and ops["G3.bn"].OP == "batchnorm"
    assert ops["G5.act"].OP == "tanh" and "D5.act" not in ops
    assert g.need(GanRoles).discriminator_probability is False


# ----------------------------------------------------------------------------- padding rule


@pytest.mark.parametrize(("k", "s", "expected"), [
    (5, 2, (2, 2, 1)), (4, 2, (1, 1, 0)), (4, 1, (1, 2, 0)), (3, 1, (1, 1, 0)), (7, 1, (3, 3, 0)),
    (2, 2, (0, 0, 0)), (1, 3, (0, 0, 2)),
])
def test_same_tconv_table(k: int, s: int, expected: tuple[int, int, int]) -> None:
    assert default_same_pads("tconv", 1, k, s) == expected


def _brute_force_same(kind: str, i: int, k: int, s: int) -> tuple[int, int, int]:
    """The DESIGN §4 rule by search, not by formula: among every (pad_begin, pad_end, output_padding) whose
    output size is the promised one (ONNX shape formulas), the symmetric P' = max(0, ⌈(K−S)/2⌉) (with the
    output padding that completes it, < S) when there is one, else the smallest total, split ⌊·/2⌋, ⌈·/2⌉."""
    half = max(0, math.ceil((k - s) / 2))
    if kind == "tconv":
        sols = [(pb, pe, op) for pb in range(k + 1) for pe in range(k + 1) for op in range(s)
                if s * (i - 1) + k - pb - pe + op == i * s]
        for op in range(s):
            if (half, half, op) in sols:
                return half, half, op
        total = min(pb + pe for pb, pe, op in sols if op == 0)
        return total // 2, total - total // 2, 0
    want = math.ceil(i / s)
    sols = [(pb, pe) for pb in range(k + s) for pe in range(k + s)
            if i + pb + pe >= k and (i + pb + pe - k) // s + 1 == want]
    if (half, half) in sols:
        return half, half, 0
    total = min(pb + pe for pb, pe in sols)
    return total // 2, total - total // 2, 0


def test_same_padding_rule_over_the_whole_grid() -> None:
    """One function implements the rule (the product's); it agrees with the search on all 3,584 (I, K, S)."""
    cases = [(i, k, s) for i in range(1, 33) for k in range(1, 17) for s in range(1, 8)]
    assert len(cases) == 3584
    for kind in ("tconv", "sconv"):
        for i, k, s in cases:
            assert default_same_pads(kind, i, k, s) == _brute_force_same(kind, i, k, s), (kind, i, k, s)


class _Conv:
    """Just enough of an op for ``conv_spatial``."""

    def __init__(self, transposed: bool, k: int, s: int, pads: tuple[int, int], op: int = 0) -> None:
        from lergan_cc.ir.ops import SConv, TConv

        cls = TConv if transposed else SConv
        extra = {"output_padding": (op,)} if transposed else {}
        self.op = cls(name="x", layer="x", phase="fwd", inputs=(), shape=(), out_channels=1, kernel=(k,),
                      stride=(s,), pads=pads, dilation=(1,), **extra)


@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 20))
def test_same_padding_gives_the_promised_sizes(k: int, s: int, i: int) -> None:
    pb, pe, op = default_same_pads("tconv", i, k, s)
    assert min(pb, pe) >= 0 and 0 <= op < s
    assert conv_spatial(_Conv(True, k, s, (pb, pe), op).op, (i,)) == (i * s,)
    pb, pe, _ = default_same_pads("sconv", i, k, s)
    assert min(pb, pe) >= 0 and pe - pb in (0, 1)
    assert conv_spatial(_Conv(False, k, s, (pb, pe)).op, (i,)) == (math.ceil(i / s),)


@st.composite
def table_v_gans(draw: st.DrawFn) -> tuple[str, list[int], list[int], tuple[int, ...]]:
    """A random DCGAN-like GAN as Table V strings, with an item size the strides divide."""
    rank = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    ks = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    ss = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    counts = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    base = draw(st.integers(1, 3))
    item = (base * math.prod(ss),) * rank
    channels = draw(st.integers(1, 3))
    layers = "-".join(f"{c}t{k}k{s}s" for c, k, s in zip(counts, ks, ss, strict=True))
    gen = f"{draw(st.integers(1, 9))}f-{layers}-t{channels}"
    if draw(st.booleans()) and len(set(ks)) == 1 and len(set(ss)) == 1:
        gen = f"{gen.split('-')[0]}-(" + "-".join(f"{c}t" for c in counts) + f")({ks[0]}k{ss[0]}s)-t{channels}"
    maps = [channels, *counts]
    disc = "-".join(f"{c}c{k}k{s}s" for c, k, s in zip(maps[:-1], ks, ss, strict=True)) + f"-{counts[-1]}c-f1"
    text = f'gan {{\n generator "{gen}"\n discriminator "{disc}"\n item {"x".join(map(str, item))}\n}}\n'
    return text, ks, ss, item


@settings(max_examples=60, deadline=None)
@given(table_v_gans())
def test_random_table_v_strings_chain(case: tuple[str, list[int], list[int], tuple[int, ...]]) -> None:
    text, ks, ss, item = case
    g = loads_dsl(text, "random.lergan")
    tconvs = [op for op in main_ops(g, "G_fwd") if op.OP == "tconv"]
    assert [op.kernel[0] for op in tconvs] == ks and [op.stride[0] for op in tconvs] == ss
    for op in tconvs:
        (ins,) = g.input_shapes(op)
        assert op.shape[1:] == tuple(i * s for i, s in zip(ins[1:], op.stride, strict=True))
    assert g.op(g.outputs[0]).shape[1:] == item
    for op in main_ops(g, "D_fwd"):
        (ins,) = g.input_shapes(op)
        if op.OP == "sconv":
            assert op.shape[1:] == tuple(i // s for i, s in zip(ins[1:], op.stride, strict=True))


# ----------------------------------------------------------------------------- errors

BAD = {
    "syntax": ("gan {\n  item 64x64 {\n}\n", "2:14: unexpected '{'; expected one of:"),
    "bad-char": ("gan {\n  item 64x64 @\n}\n", "2:14: unexpected character '@'"),
    "eof": ("gan {\n  item 64x64\n", "unexpected end of file; expected one of: '}', a name"),
    "unknown-statement": (DCGAN % "  colour blue\n", "5:3: unknown statement 'colour' in a 'gan' block"),
    "unknown-value": (DCGAN % "  replica_degree extreme\n", "5:18: unknown replica_degree 'extreme'"),
    "duplicate": (DCGAN % "  item 32x32\n", "5:3: 'item' is given twice (first at line 4)"),
    "not-chaining": (DCGAN_TEXT.replace("64x64", "62x62"),
                     "2:35: G4: output size 31x31 is not divisible by its stride 2"),
    "bad-string": (DCGAN_TEXT.replace(")-t3", ")t3"), "2:51: expected '-' between stages, got 't'"),
    "no-kernel": (DCGAN_TEXT.replace("(1024t-512t-256t-128t)(5k2s)", "1024t-512t"),
                  "2:23: stage '1024t' starts layer 2 but has no kernel size"),
    "3dgan-channels": (
        'gan {\n generator "100f-(512t-256t-128t)(4k2s)-t3"\n discriminator "(1c-64c-128c-256c-512c)(4k2s)-f1"\n'
        " item 64x64x64\n}\n",
        "3:18: the Table V strings do not chain: the discriminator starts with 1 maps ('1c') but the generator ends "
        "with 3; add 'item_channels 1'"),
    "flat-discriminator": (DCGAN_TEXT.replace('"(3c-128c-256c-512c-1024c)(5k2s)-f1"', '"700f-f1"'),
                           "3:18: the first stage '700f' reads the flattened item 3x64x64: it must have 12288 units"),
    "after-op": (DCGAN % "  after G.hidden relu frob\n", "5:23: unknown op 'frob' after a layer"),
    "after-selector": (DCGAN % "  after G9 relu\n", "5:9: unknown selector 'G9'"),
    "no-item": (DCGAN_TEXT.replace("  item 64x64\n", ""), "1:1: a gan block with Table V strings needs 'item'"),
    "empty": ("# nothing\n", "2:1: unexpected end of file; expected a name"),
    "block-statement": ("network {\n  after {\n  }\n}\n", "2:3: 'after' takes arguments on its line, not a { } block"),
    "top-block": ("model {\n}\n", "1:1: unknown block 'model'; expected a 'gan' or 'network' block"),
    "verbose-chain": ("network {\n layer a sconv 3x8x8 -> 4x4x4 kernel 3 stride 2 pads 1\n"
                      " layer b sconv 4x8x8 -> 4x4x4 kernel 3 stride 2 pads 1\n}\n",
                      "3:16: layer b reads 4x8x8 but the previous layer (a) produces 4x4x4"),
    "verbose-size": ("network {\n layer a sconv 3x8x8 -> 4x5x5 kernel 3 stride 2 pads 1\n}\n",
                     "2:25: layer a produces 4x4x4 with these kernel, stride and pads, not 4x5x5"),
    "verbose-key": ("network {\n layer a sconv 3x8x8 -> 4x4x4 kernel 3 stride 2 padding 1\n}\n",
                    "2:49: unexpected 'padding' in a sconv layer; expected one of: kernel, stride, pads"),
    "verbose-pads": ("network {\n layer a sconv 3x8x8 -> 4x4x4 kernel 3 stride 2 pads [1, 1, 1]\n}\n",
                     "2:54: 'pads' takes one number, [2 numbers] (per axis) or [4 numbers]"),
    "verbose-group": ("network {\n layer a sconv 3x8x8 -> 4x4x4 kernel 3 stride 2 pads 1 group 2\n}\n",
                      "2:2: layer a: group 2 does not divide channels 3 -> 4"),
}


def run_cli(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = lerganc([str(path), "--stop-after", "import", "--emit", "ir", *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line_and_status_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD[case]
    src = tmp_path / f"{case}.lergan"
    src.write_text(text)
    out_file = tmp_path / "out.lir"
    out_file.write_text("keep me\n")
    code, out, err = run_cli(src, capsys, "-o", str(out_file))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"lerganc: error: {src}:"), err
    assert message in err, err
    assert out_file.read_text() == "keep me\n"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(tmp_path / "nope.lergan", capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "no such file" in err


def test_source_error_carries_its_position() -> None:
    with pytest.raises(SourceError) as e:
        loads_dsl(BAD["syntax"][0], "s.lergan")
    assert (e.value.path, e.value.line, e.value.column) == ("s.lergan", 2, 14)


def test_cli_subprocess_no_traceback(tmp_path: Path) -> None:
    src = tmp_path / "bad.lergan"
    src.write_text(BAD["not-chaining"][0])
    proc = subprocess.run([sys.executable, "-m", "lergan_cc.cli.lerganc", str(src), "--stop-after", "import",
                           "--emit", "ir"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"lerganc: error: {src}:2:35: " + proc.stderr.split(":2:35: ", 1)[1].strip()]


def test_cli_emits_ir_json_for_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run_cli(EXAMPLES / "dcgan.lergan", capsys)
    assert code == 0 and out.startswith("lir 2\n")
    assert lerganc([str(EXAMPLES / "dcgan.lergan"), "--stop-after", "import", "--emit", "ir-json"]) == 0
    nodes = {n["name"]: n for n in json.loads(capsys.readouterr().out)["nodes"]}
    assert nodes["G2"]["input_shapes"] == [[1024, 4, 4]] and nodes["G2"]["attrs"]["output_padding"] == [1, 1]


def test_table_v_and_verbose_forms_mix() -> None:
    text = """gan {
  generator {
    layer g1 dense 10 -> 4x8
    layer g2 tconv 4x8 -> 1x16 kernel 4 stride 2 pads 1
  }
  discriminator "(1c-8c)(4k2s)-f1"  # sized from the verbose generator's 1x16 output
  item 16
}
"""
    g = loads_dsl(text, "mixed.lergan")
    assert g.op("real").shape == (1, 16) and g.op("D1").shape == (8, 8) and g.op("D1").pads == (1, 1)
    assert g.op("g1.reshape").shape == (4, 8) and g.op("g2.act").OP == "tanh"


def test_layer_head_errors_point_at_the_bad_argument() -> None:
    with pytest.raises(SourceError) as e:
        loads_dsl("network {\n  layer a sconv 3x8x8 4x4x4\n}\n", "h.lergan")
    assert (e.value.line, e.value.column) == (2, 23)


EDIT = st.tuples(st.floats(0, 1), st.integers(0, 4), st.sampled_from([*'ftck0123456789x -(){}[],"#\n', "", "->"]))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL), st.lists(EDIT, min_size=1, max_size=3))
def test_mutated_examples_fail_cleanly(name: str, edits: list[tuple[float, int, str]]) -> None:
    """Any damage to a model file gives a Graph or a one-line LerganError, never a crash."""
    text = (EXAMPLES / f"{name}.lergan").read_text()
    for where, cut, put in edits:
        at = int(where * len(text))
        text = text[:at] + put + text[at + cut:]
    try:
        loads_dsl(text, "m.lergan")
    except LerganError as e:
        assert "\n" not in str(e)

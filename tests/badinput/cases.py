"""The explicit bad inputs: every class issue 13 lists, each as a case with the words its error must say."""

from __future__ import annotations

import re

import numpy as np

from tests.badinput.harness import Case
from tests.badinput.seeds import npz

HUGE = "9" * 4301  # past Python's int-str limit (4,300 digits)


def sub(data: bytes, old: str, new: str, count: int = 1) -> bytes:
    text = data.decode()
    assert old in text, old
    return text.replace(old, new, count).encode()


def resub(data: bytes, pattern: str, new: str) -> bytes:
    text, n = re.subn(pattern, new, data.decode(), count=1, flags=re.M)
    assert n == 1, pattern
    return text.encode()


def unsealed(program: bytes) -> bytes:
    return resub(program, r' sidecar="[^"]*"', "")


def outputs_are_inputs(s: dict[str, bytes]) -> list[Case]:
    gan, prog, side = s["gan.lergan"], s["net.fsm"], s["net.fsm.npz"]
    pair = {"p.fsm": prog, "p.fsm.npz": side}
    onnx = {"g.onnx": s["g.onnx"], "d.onnx": s["d.onnx"]}
    return [
        Case("lerganc", ["m.lergan", "-o", "m.lergan"], {"m.lergan": gan}, expect="is also an input"),
        Case("lerganc", ["m.lergan", "--emit", "ir", "-o", "m.lergan"], {"m.lergan": gan}, expect="is also an input"),
        Case(
            "lerganc",
            ["./sub/../m.lergan", "-o", "m.lergan"],
            {"m.lergan": gan},
            dirs=("sub",),
            expect="is also an input",
        ),
        Case("lerganc", ["g.onnx", "--discriminator", "d.onnx", "-o", "d.onnx"], onnx, expect="is also an input"),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx", "-o", "x.fsm", "--hw", "x.fsm.npz"],
            {**onnx, "x.fsm.npz": s["hw.toml"]},
            expect="is also an input",
        ),
        Case(
            "lerganc",
            ["m.lergan", "--hw", "hw.toml", "-o", "hw.toml"],
            {"m.lergan": gan, "hw.toml": s["hw.toml"]},
            expect="is also an input",
        ),
        Case("lergan-sim", ["p.fsm", "--report", "p.fsm"], pair, expect="is also an input"),
        Case("lergan-sim", ["p.fsm", "--outputs", "p.fsm.npz"], pair, expect="is also an input"),
        Case(
            "lergan-sim",
            ["p.fsm", "--trace", "in.npz", "--inputs", "in.npz"],
            {**pair, "in.npz": s["net_in.npz"]},
            expect="is also an input",
        ),
        Case("lergan-sim", ["p.fsm", "--report", "r.json", "--trace", "r.json"], pair, expect="the same file"),
        Case("lergan-opt", ["g.lir", "-o", "g.lir"], {"g.lir": s["net.lir"]}, expect="is also an input"),
        Case(
            "lergan-opt",
            ["g.lir", "--hw", "hw.toml", "-o", "hw.toml"],
            {"g.lir": s["net.lir"], "hw.toml": s["hw.toml"]},
            expect="is also an input",
        ),
        Case("lerganc", ["m.lergan", "-o", "-"], {"m.lergan": gan, "m.fsm": b"keep\n"}, expect="cannot go to stdout"),
        Case(
            "lergan-bench",
            ["--models", "m.lergan", "--out", ".", "--hw", "results.json", "--configs", "prime", "--no-cache"],
            {"m.lergan": gan, "results.json": s["hw.toml"]},
            expect="hw",
        ),
    ]


def multi_file_outputs(s: dict[str, bytes]) -> list[Case]:
    gan, pair = s["gan.lergan"], {"p.fsm": s["net.fsm"], "p.fsm.npz": s["net.fsm.npz"]}
    return [
        Case(
            "lerganc",
            ["m.lergan", "-o", "outdir"],
            {"m.lergan": gan, "outdir.npz": b"old\n"},
            dirs=("outdir",),
            expect="is a directory",
        ),
        Case(
            "lerganc",
            ["m.lergan", "--emit", "placement", "-o", "out.json", "--plot-placement", "nodir/p.png"],
            {"m.lergan": gan},
            expect="no such directory",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--outputs", "out.npz", "--report", "nodir/r.json"],
            pair,
            expect="no such directory",
        ),
        Case(
            "lerganc",
            ["m.lergan", "-o", "ro.fsm"],
            {"m.lergan": gan, "ro.fsm": b"old\n"},
            modes={"ro.fsm": 0o444},
            expect="read-only",
        ),
        Case(
            "lerganc",
            ["m.lergan", "-o", "x.fsm"],
            {"m.lergan": gan, "x.fsm.npz": b"old\n"},
            modes={"x.fsm.npz": 0o444},
            expect="read-only",
        ),
    ]


def hangs(s: dict[str, bytes]) -> list[Case]:
    net, side, gan_prog = s["net.fsm"], s["net.fsm.npz"], s["gan.fsm"]
    huge_hw = b"[memory]\ntotal_mib = 2048000000\n"
    big_loop = sub(
        sub(net, "buffer %dec [2, 10, 10]", "buffer %dec [2, 900000000, 900000000]"),
        "rect=[<0,2,5>, <0,1,1>]",
        "rect=[<0,1,900000000>, <0,1,900000000>]",
    )
    return [
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": sub(net, "  goto run", "  goto init"), "p.fsm.npz": side},
            expect="never reaches halt",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": sub(net, "  halt", "  goto run"), "p.fsm.npz": side},
            expect="never reaches halt",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--timing-only"],
            {"p.fsm": sub(net, "  halt", "  goto init")},
            expect="never reaches halt",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--iterations", "3"],
            {"p.fsm": sub(gan_prog, "iterate d.g_fwd", "goto d.g_fwd"), "p.fsm.npz": s["gan.fsm.npz"]},
            expect="never reaches halt",
        ),
        Case(
            "lerganc",
            ["m.lergan"],
            {"m.lergan": sub(s["gan.lergan"], "item 8x8", "item 1000000000x1000000000")},
            expect="does not fit",
        ),
        Case(
            "lerganc",
            ["m.lergan", "--hw", "hw.toml"],
            {"m.lergan": s["gan.lergan"], "hw.toml": huge_hw},
            expect="memory.total_mib",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--iterations", "1000000000000", "--timing-only"],
            {"p.fsm": gan_prog},
            expect="--iterations",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--iterations", "1000000000000"],
            {"p.fsm": gan_prog, "p.fsm.npz": s["gan.fsm.npz"]},
            expect="--iterations",
        ),
        Case("lergan-sim", ["p.fsm"], {"p.fsm": unsealed(big_loop), "p.fsm.npz": side}, expect="does not fit"),
        Case("lergan-sim", ["p.fsm", "--timing-only"], {"p.fsm": big_loop}, expect="does not fit"),
    ]


def path_mistakes(s: dict[str, bytes]) -> list[Case]:
    gan = {"m.lergan": s["gan.lergan"]}
    return [
        Case("lerganc", ["m.lergan", "-o", "nodir/x.fsm"], gan, expect="no such directory"),
        Case("lerganc", ["m.lergan", "--emit", "ir", "-o", "nodir/x.lir"], gan, expect="no such directory"),
        Case("lerganc", ["m.lergan", "--emit", "ir", "-o", "d"], gan, dirs=("d",), expect="is a directory"),
        Case(
            "lerganc",
            ["m.lergan", "--emit", "ir", "--dump-ir", "f"],
            {**gan, "f": b"a file\n"},
            expect="not a directory",
        ),
        Case("lerganc", ["m.lergan", "--emit", "ir", "--dump-ir", "a/b"], gan, expect="no such directory"),
        Case("lerganc", ["d"], gan, dirs=("d",), expect="is a directory"),
        Case("lergan-sim", ["d"], {}, dirs=("d",), expect="is a directory"),
        Case("lergan-opt", ["d", "-p", "zero-insertion"], {}, dirs=("d",), expect="is a directory"),
        Case(
            "lergan-bench",
            ["--models", "m.lergan", "--out", "f", "--no-plots", "--configs", "prime", "--jobs", "1", "--no-cache"],
            {**gan, "f": b"a file\n"},
            expect="not a directory",
        ),
        Case(
            "lergan-bench",
            ["--models", "m.lergan", "--cache-dir", "f", "--out", "o"],
            {**gan, "f": b"a file\n"},
            expect="not a directory",
        ),
        Case("lergan-bench", ["--models", "m.lergan", "--out", "nodir/o"], gan, expect="no such directory"),
        Case("lerganc", ["m.lergan", "--emit", "ir", "-o", ""], gan, expect="empty"),
    ]


def malformed(s: dict[str, bytes]) -> list[Case]:
    gan, net, vgan = s["gan.lergan"], s["net.fsm"], s["vgan.lergan"]
    side = s["net.fsm.npz"]
    g_onnx = s["g.onnx"]
    return [
        Case("lerganc", ["m.lergan"], {"m.lergan": sub(gan, "(16t-8t)(4k2s)", "(16t-0t)(4k2s)")}, expect="m.lergan:"),
        Case("lerganc", ["m.lergan"], {"m.lergan": sub(gan, "(16t-8t)(4k2s)", "(16t-8t)(4k0s)")}, expect="m.lergan:"),
        Case("lerganc", ["m.lergan"], {"m.lergan": sub(gan, "(16t-8t)(4k2s)", "(16t-8t)(0k2s)")}, expect="m.lergan:"),
        Case(
            "lerganc",
            ["m.lergan"],
            {"m.lergan": sub(vgan, "layer D2 dense 4x2x2 -> 1", "layer D2 dense 4x2x2 -> 0")},
            expect="m.lergan:",
        ),
        Case("lerganc", ["m.lergan"], {"m.lergan": sub(gan, "item 8x8", f"item {HUGE}x8")}, expect="m.lergan:"),
        Case("lerganc", ["m.lergan"], {"m.lergan": sub(gan, "10f-", f"{HUGE}f-")}, expect="m.lergan:"),
        Case(
            "lerganc",
            ["m.lergan"],
            {"m.lergan": sub(vgan, "kernel 4 stride 2 pads 1", f"kernel 4 stride 2 pads {HUGE}")},
            expect="m.lergan:",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "batch=2", f"batch={HUGE}")), "p.fsm.npz": side},
            expect="p.fsm:",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "rect=[<0,1,5>", f"rect=[<0,1,{HUGE}>")), "p.fsm.npz": side},
            expect="p.fsm:",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "alpha=0.0", "alpha=1e999")), "p.fsm.npz": side},
            expect="p.fsm:",
        ),
        Case(
            "lergan-opt", ["g.lir"], {"g.lir": resub(s["net.lir"], r"\[2, 9, 9\]", f"[2, {HUGE}, 9]")}, expect="g.lir:"
        ),
        Case("lergan-opt", ["g.lir"], {"g.lir": b"\x00\x01\xff\xfe binary"}, expect="g.lir"),
        Case("lergan-opt", ["g.lir"], {"g.lir": s["net.lir"][:40] + b"\xe9t\xe9\n"}, expect="UTF-8"),
        Case("lergan-sim", ["p.fsm"], {"p.fsm": b"\x00\xff\xfe\x00" * 10, "p.fsm.npz": side}, expect="UTF-8"),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "buffer %dec [2, 10, 10]", "buffer %dec [2, -10, 10]")), "p.fsm.npz": side},
            expect="p.fsm:",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {
                "p.fsm": unsealed(sub(net, "buffer %dec [2, 10, 10]", "buffer %dec [2, 1000000000000, 10]")),
                "p.fsm.npz": side,
            },
            expect="out of range",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "batch=2", "batch=-2")), "p.fsm.npz": side},
            expect="batch",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "batch=2", "batch=100000000000")), "p.fsm.npz": side},
            expect="batch",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--timing-only"],
            {"p.fsm": sub(net, "batch=2", "batch=100000000000")},
            expect="batch",
        ),
        Case("lergan-sim", ["p.fsm"], {"p.fsm": unsealed(net), "p.fsm.npz": _npy()}, expect="not an .npz"),
        Case(
            "lergan-sim", ["p.fsm"], {"p.fsm": unsealed(net), "p.fsm.npz": bytes(range(256)) * 8}, expect="not an .npz"
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {"p.fsm": net, "p.fsm.npz": side, "in.npz": b"PK\x03\x04" + bytes(300)},
            expect="in.npz",
        ),
        Case("lergan-sim", ["p.fsm", "--seed", "-1"], {"p.fsm": net, "p.fsm.npz": side}, expect="--seed"),
        Case("lergan-sim", ["p.fsm", "--seed", HUGE], {"p.fsm": net, "p.fsm.npz": side}, expect="--seed"),
        Case(
            "lergan-bench",
            [
                "--models",
                "m.lergan",
                "--baselines",
                "b.toml",
                "--no-plots",
                "--configs",
                "prime",
                "--jobs",
                "1",
                "--no-cache",
            ],
            {"m.lergan": gan, "b.toml": bytes(range(256))},
            expect="b.toml",
        ),
        Case("lerganc", ["g.onnx"], {"g.onnx": g_onnx[: len(g_onnx) // 2]}, expect="g.onnx"),
    ]


def _npy() -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2), np.float32))
    return buf.getvalue()


def non_finite(s: dict[str, bytes]) -> list[Case]:
    gan, net, side = s["gan.lergan"], s["net.fsm"], s["net.fsm.npz"]
    pair = {"p.fsm": net, "p.fsm.npz": side}
    gpair = {"p.fsm": s["gan.fsm"], "p.fsm.npz": s["gan.fsm.npz"]}
    with np.load(__import__("io").BytesIO(side)) as d:
        weights = {k: d[k] for k in d.files}
    nan_side = npz(**{**weights, "enc.weight": np.full_like(weights["enc.weight"], np.nan)})
    inf_side = npz(**{**weights, "head.bias": np.full_like(weights["head.bias"], np.inf)})
    x = np.ones((2, 2, 9, 9), np.float32)
    return [
        Case(
            "lerganc",
            ["m.lergan", "--hw", "h.toml"],
            {"m.lergan": gan, "h.toml": b"[bank]\nread_ns = nan\n"},
            expect="bank.read_ns",
        ),
        Case(
            "lerganc",
            ["m.lergan", "--hw", "h.toml"],
            {"m.lergan": gan, "h.toml": b"[bank]\nread_ns = inf\n"},
            expect="bank.read_ns",
        ),
        Case(
            "lerganc",
            ["m.lergan", "--hw", "h.toml"],
            {"m.lergan": gan, "h.toml": b"[bank]\nread_ns = 1e300\n"},
            expect="bank.read_ns",
        ),
        Case(
            "lergan-bench",
            [
                "--models",
                "m.lergan",
                "--baselines",
                "b.toml",
                "--no-plots",
                "--configs",
                "prime",
                "--jobs",
                "1",
                "--no-cache",
            ],
            {"m.lergan": gan, "b.toml": b"[gpu]\npower_w = nan\n"},
            expect="power_w",
        ),
        Case(
            "lergan-bench",
            [
                "--models",
                "m.lergan",
                "--baselines",
                "b.toml",
                "--no-plots",
                "--configs",
                "prime",
                "--jobs",
                "1",
                "--no-cache",
            ],
            {"m.lergan": gan, "b.toml": b"[gpu]\nmacs_per_s = inf\n"},
            expect="macs_per_s",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--lr", "1e30", "--iterations", "3", "--outputs", "o.npz"],
            {**gpair, "o.npz": b"keep\n"},
            expect="iteration",
        ),
        *[Case("lergan-sim", ["p.fsm", "--lr", v], gpair, expect="--lr") for v in ("nan", "inf", "-1", "1e999")],
        Case("lergan-sim", ["p.fsm"], {"p.fsm": unsealed(net), "p.fsm.npz": nan_side}, expect="NaN"),
        Case("lergan-sim", ["p.fsm"], {"p.fsm": unsealed(net), "p.fsm.npz": inf_side}, expect="NaN"),
        Case("lergan-sim", ["p.fsm", "--inputs", "in.npz"], {**pair, "in.npz": npz(input=x * np.nan)}, expect="NaN"),
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {**pair, "in.npz": npz(input=x.astype(np.float64) * 1e300)},
            expect="NaN",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {**pair, "in.npz": npz(**{"enc.weight": np.full_like(weights["enc.weight"], np.inf)})},
            expect="NaN",
        ),
    ]


def operands(s: dict[str, bytes]) -> list[Case]:
    net, side, gan = s["net.fsm"], s["net.fsm.npz"], s["gan.fsm"]
    return [
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "bank=B1", "bank=B99")), "p.fsm.npz": side},
            expect="B99",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--timing-only"],
            {"p.fsm": sub(gan, "switch B4.T0=down", "switch B1.L9.n99=down")},
            expect="B1.L9.n99",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--timing-only"],
            {"p.fsm": sub(net, "  halt", "  setswitch node=B1.L9.n99 state=down\n  halt")},
            expect="B1.L9.n99",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "stride=[1, 1]", "stride=[0, 0]")), "p.fsm.npz": side},
            expect="stride",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--timing-only"],
            {"p.fsm": sub(net, "stride=[1, 1]", "stride=[0, 0]")},
            expect="stride",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "hw banks=8", "hw bankz=3 banks=8")), "p.fsm.npz": side},
            expect="bankz",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, 'target="lergan-3d"', 'target="lergan-3d" colour=1')), "p.fsm.npz": side},
            expect="colour",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {"p.fsm": net, "p.fsm.npz": side, "in.npz": npz(inptu=np.ones((2, 2, 9, 9), np.float32))},
            expect="did you mean",
        ),
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {"p.fsm": s["gan.fsm"], "p.fsm.npz": s["gan.fsm.npz"], "in.npz": npz(nosie=np.ones((2, 10), np.float32))},
            expect="nosie",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, '"net" net', '"net" gan')), "p.fsm.npz": side},
            expect="gan",
        ),
        Case("lergan-sim", ["p.fsm", "--timing-only"], {"p.fsm": sub(gan, '"gan" gan', '"gan" net')}, expect="net"),
    ]


def compiler_values(s: dict[str, bytes]) -> list[Case]:
    gan, lir = s["gan.lergan"], s["gan.lir"]
    onnx = {"g.onnx": s["g.onnx"], "d.onnx": s["d.onnx"]}
    return [
        Case("lerganc", ["m.lergan", "--batch", str(10**30)], {"m.lergan": gan}, expect="--batch"),
        Case(
            "lerganc",
            ["m.lergan", "--batch", "1048576"],
            {"m.lergan": sub(gan, "item 8x8", "item 256x256")},
            expect="does not fit",
        ),
        Case("lerganc", ["m.lergan", "--batch", HUGE], {"m.lergan": gan}, expect="--batch"),
        *[
            Case("lergan-opt", ["g.lir", "--batch", v, "-p", "replicate"], {"g.lir": lir}, expect="--batch")
            for v in ("0", "-5", "nan")
        ],
        Case(
            "lergan-opt",
            ["g.lir", "--hw", "h.toml", "-p", "zfdr"],
            {"g.lir": lir, "h.toml": b"[bank]\nread_ns = -1\n"},
            expect="bank.read_ns",
        ),
        Case("lergan-opt", ["g.lir", "-p", "zfdr", "--print-ir-after", "bogus"], {"g.lir": lir}, expect="bogus"),
        Case(
            "lerganc",
            ["m.lergan", "--emit", "ir", "--print-ir-after", "zfrd"],
            {"m.lergan": gan},
            expect="did you mean",
        ),
        Case("lerganc", ["m.lergan", "--emit", "ir", "--stop-after", "zfrd"], {"m.lergan": gan}, expect="did you mean"),
        Case("lergan-opt", ["g.lir", "-p", "zfrd"], {"g.lir": lir}, expect="did you mean"),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "int64")},
            expect="g.onnx",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "opset")},
            expect="opset",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "d.onnx": _onnx_edit(s["d.onnx"], "outputs")},
            expect="output",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "units")},
            expect="g.onnx",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "nan")},
            expect="NaN",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "external")},
            expect="external",
        ),
        Case(
            "lerganc",
            ["g.onnx", "--discriminator", "d.onnx"],
            {**onnx, "g.onnx": _onnx_edit(s["g.onnx"], "outside"), "secret.bin": bytes(64 * 4)},
            dirs=("m",),
            expect="outside",
        ),
    ]


def _onnx_edit(data: bytes, how: str) -> bytes:
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.load_from_string(data)
    g = m.graph
    if how == "int64":
        g.input[0].type.tensor_type.elem_type = TensorProto.INT64
    elif how == "opset":
        m.opset_import[0].version = 99
    elif how == "outputs":
        del g.output[:]
    elif how == "units":  # a Gemm with 0 units: an empty weight and bias
        for init in g.initializer:
            if init.name in ("w1", "b1"):
                shape = (0, 8) if init.name == "w1" else (0,)
                init.CopyFrom(numpy_helper.from_array(np.zeros(shape, np.float32), init.name))
    elif how == "nan":
        w = next(i for i in g.initializer if i.name == "w2")
        w.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(w).shape, np.nan, np.float32), "w2"))
    elif how in ("external", "outside"):
        w = next(i for i in g.initializer if i.name == "w1")
        w.ClearField("raw_data")
        del w.float_data[:]
        w.data_location = TensorProto.EXTERNAL
        entry = w.external_data.add()
        entry.key, entry.value = "location", ("missing.bin" if how == "external" else "../secret.bin")
    return m.SerializeToString()


def bench(s: dict[str, bytes]) -> list[Case]:
    gan = s["gan.lergan"]
    kept = {"o/results.csv": b"earlier\n", "o/tables.md": b"earlier\n"}
    args = ["--out", "o", "--no-plots", "--jobs", "1", "--cache-dir", "c", "--configs", "prime"]
    return [
        Case("lergan-bench", ["--models", "", *args], kept, expect="--models"),
        Case("lergan-bench", ["--models", ",", *args], kept, expect="--models"),
        Case("lergan-bench", ["--configs", "", *args[:-2]], kept, expect="--configs"),
        Case(
            "lergan-bench", ["--models", "m.lergan", *args], {**kept, "m.lergan": gan[:40] + b"}}"}, expect="m.lergan:"
        ),
        Case(
            "lergan-bench",
            ["--models", "m.lergan", "--hw", "h.toml", *args],
            {**kept, "m.lergan": gan, "h.toml": b"[bank]\nread_ns = -3\n"},
            expect="bank.read_ns",
        ),
        Case("lergan-bench", ["--models", "dcgna", *args], kept, expect="did you mean"),
        Case(
            "lergan-bench", ["--models", "m.lergan", "--batch", "0", *args], {**kept, "m.lergan": gan}, expect="--batch"
        ),
    ]


def smaller(s: dict[str, bytes]) -> list[Case]:
    gan, net, side = s["gan.lergan"], s["net.fsm"], s["net.fsm.npz"]
    return [
        Case(
            "lergan-sim",
            ["p.fsm", "--inputs", "in.npz"],
            {"p.fsm": net, "p.fsm.npz": side, "in.npz": bytes(range(256)) * 4},
            expect="not an .npz",
        ),
        Case(
            "lergan-sim",
            ["p.fsm"],
            {"p.fsm": unsealed(sub(net, "  halt", "  halt\n  halt")), "p.fsm.npz": side},
            expect="p.fsm:",
        ),
        Case("lerganc", ["m.lergan", "--discriminator", "x.onnx"], {"m.lergan": gan}, expect="no such file"),
        Case("lerganc", ["m.lergan", "--discriminator", "d"], {"m.lergan": gan}, dirs=("d",), expect="is a directory"),
    ]


GROUPS = {
    "outputs are inputs": outputs_are_inputs,
    "multi-file outputs": multi_file_outputs,
    "hangs": hangs,
    "path mistakes": path_mistakes,
    "malformed input": malformed,
    "NaN and inf": non_finite,
    "operands": operands,
    "compiler values": compiler_values,
    "lergan-bench": bench,
    "smaller": smaller,
}


def all_cases(s: dict[str, bytes]) -> list[Case]:
    out = []
    for group, make in GROUPS.items():
        for i, case in enumerate(make(s)):
            case.name = f"{group} #{i}"
            out.append(case)
    return out

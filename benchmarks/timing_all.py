"""The timing model on every benchmark x design point: program sizes, parse and model times, and (with
``--reference DIR``) whether every report equals, value for value, the one an earlier commit wrote.

    python benchmarks/timing_all.py --out DIR [--reference REF] [--models a,b] [--configs x,y] [--engine event]

Compiles each model with each ``lergan-bench`` design point in process, writes ``DIR/<model>.<config>.fsm``
(the program text, no sidecar) and ``DIR/<model>.<config>.json`` (the whole ``--report``), and prints one
line per run: program bytes, instructions, parse seconds, timing-model seconds. With ``--reference`` every
report is compared with ``REF/<model>.<config>.json`` exactly (floats bit for bit). ``--programs`` reuses
the programs already in ``DIR`` (no compile).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lergan_cc import api
from lergan_cc.bench.configs import CONFIGS, MODELS, examples_dir, split_names
from lergan_cc.bench.runner import FLAG_OPTIONS
from lergan_cc.errors import LerganError
from lergan_cc.options import Options


def options_of(flags: tuple[str, ...]) -> Options:
    settings: dict[str, Any] = {}
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        settings[FLAG_OPTIONS[flag]] = int(value) if value.isdigit() else value
    return Options(**settings)


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two JSON values differ (floats compared exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in one" for k in set(a) ^ set(b)]
        for k in a.keys() & b.keys():
            out += differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{where}: {a!r} != {b!r}"]


def run(model: str, config: str, out: Path, reuse: bool, engine: str = "fast") -> dict[str, Any]:
    from lergan_cc.fsm.asm import parse_fsm

    fsm = out / f"{model}.{config}.fsm"
    if not reuse:
        try:
            program = api.compile_program(str(examples_dir() / f"{model}.lergan"), options_of(CONFIGS[config].flags),
                                          warn=lambda _: None)
        except LerganError as e:
            return {"error": str(e)}
        fsm.write_text(program.text, encoding="utf-8")
    text = fsm.read_text(encoding="utf-8")
    t0 = time.perf_counter()
    parsed = parse_fsm(text, str(fsm))
    t1 = time.perf_counter()
    result = api.simulate(api.Program(parsed, text, {}, None, str(fsm)), timing_only=True, timing_engine=engine)
    t2 = time.perf_counter()
    (out / f"{model}.{config}.json").write_text(json.dumps(result.report, indent=0) + "\n", encoding="utf-8")
    return {"bytes": len(text.encode()), "instructions": sum(len(s.body) for s in parsed.states),
            "parse_s": t1 - t0, "model_s": t2 - t1, "report": result.report}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--reference", type=Path)
    ap.add_argument("--models")
    ap.add_argument("--configs")
    ap.add_argument("--programs", action="store_true", help="reuse the programs in --out")
    ap.add_argument("--engine", choices=("fast", "event"), default="fast", help="the timing model (event: the "
                    "event-by-event definition)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    models = split_names(args.models) or list(MODELS)
    configs = split_names(args.configs) or list(CONFIGS)
    bad = 0
    print(f"{'model':<16} {'config':<17} {'bytes':>9} {'instrs':>7} {'parse s':>8} {'model s':>8}  same")
    for model in models:
        for config in configs:
            r = run(model, config, args.out, args.programs, args.engine)
            if "error" in r:
                print(f"{model:<16} {config:<17} error: {r['error']}")
                continue
            same = ""
            if args.reference is not None:
                ref = json.loads((args.reference / f"{model}.{config}.json").read_text(encoding="utf-8"))
                diffs = differences(json.loads(json.dumps(r["report"])), ref)
                same = "yes" if not diffs else f"NO: {len(diffs)} values, e.g. {diffs[0]}"
                bad += bool(diffs)
            print(f"{model:<16} {config:<17} {r['bytes']:>9} {r['instructions']:>7} {r['parse_s']:>8.3f} "
                  f"{r['model_s']:>8.3f}  {same}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

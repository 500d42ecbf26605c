"""Write schedule-golden.json: every benchmark x design point's per-layer MMV rounds, time and energy.

Run with the lergan-sim and lerganc of the commit to freeze. schedule-golden.json was written by commit
10a6bbc, before sample-parallel copies and the compact copy operand:
    python tests/data/make_schedule_golden.py examples tests/data/schedule-golden.json
schedule-golden-dp.json holds the whole-machine design points (``-dp``: ``--data-parallel auto --overlap
paper``), written by commit d5c9a7d with the event-by-event timing model, before the fast one (issue 15);
its entries also carry the SHA-256 of the whole ``--report`` JSON (``json.dumps(report, sort_keys=True)``):
    python tests/data/make_schedule_golden.py examples tests/data/schedule-golden-dp.json dp
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = ("dcgan", "cgan", "3dgan", "artgan_cifar10", "gpgan", "magan_mnist", "discogan_4pairs", "discogan_5pairs")
POINTS = {  # the design points of lergan-bench before issue 14: (zero-free, target, replica)
    "prime": ("none", "htree-2d", "none"), "2d-zfdr": ("zfdr", "htree-2d", "none"),
    "2d-zfdr-low": ("zfdr", "htree-2d", "low"), "3d-nr": ("none", "lergan-3d", "none"),
    "3d-zfdr": ("zfdr", "lergan-3d", "none"), "lergan-low": ("zfdr", "lergan-3d", "low"),
    "lergan-middle": ("zfdr", "lergan-3d", "middle"), "lergan-high": ("zfdr", "lergan-3d", "high"),
    "zara-low": ("deform", "lergan-3d", "low"), "zara-middle": ("deform", "lergan-3d", "middle"),
    "zara-high": ("deform", "lergan-3d", "high"),
}

# the whole machine (lergan_cc.bench.configs: the same points with PARALLEL)
DP_POINTS = {f"{name}-dp": POINTS[name] for name in
             ("prime", "2d-zfdr", "2d-zfdr-low", "3d-zfdr", "lergan-low", "lergan-middle", "lergan-high")}
PARALLEL = ("--data-parallel", "auto", "--overlap", "paper")


def snapshot(report: dict, digest: bool = False) -> dict:
    layers = [[r["layer"], r["phase"], r["mmv_rounds"], r["time_ns"], r["energy_pj"]] for r in report["layers"]]
    out = {"time_ns": report["time_ns"], "energy_pj": report["energy_pj"], "layers": layers}
    if digest:
        out["report_sha256"] = report_digest(report)
    return out


def report_digest(report: dict) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()


def main(examples: str, out: str, points: str = "base") -> None:
    golden = {}
    chosen, extra = (DP_POINTS, PARALLEL) if points == "dp" else (POINTS, ())
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            for point, (zero_free, target, replica) in chosen.items():
                fsm, rep = Path(tmp) / "p.fsm", Path(tmp) / "r.json"
                subprocess.run(["lerganc", f"{examples}/{model}.lergan", "--zero-free", zero_free, "--target", target,
                                "--replica", replica, *extra, "-o", fsm], check=True, capture_output=True)
                subprocess.run(["lergan-sim", fsm, "--timing-only", "--report", rep], check=True, capture_output=True)
                golden[f"{model}/{point}"] = snapshot(json.loads(rep.read_text()), digest=points == "dp")
                print(model, point, file=sys.stderr)
    Path(out).write_text(json.dumps(golden, indent=0) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])

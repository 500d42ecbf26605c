"""Write schedule-golden.json: every benchmark x design point's per-layer MMV rounds, time and energy.

Run with the lergan-sim and lerganc of the commit to freeze (the golden in this folder was written by
commit 10a6bbc, before sample-parallel copies and the compact copy operand):
    python tests/data/make_schedule_golden.py examples tests/data/schedule-golden.json
"""

from __future__ import annotations

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


def snapshot(report: dict) -> dict:
    layers = [[r["layer"], r["phase"], r["mmv_rounds"], r["time_ns"], r["energy_pj"]] for r in report["layers"]]
    return {"time_ns": report["time_ns"], "energy_pj": report["energy_pj"], "layers": layers}


def main(examples: str, out: str) -> None:
    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            for point, (zero_free, target, replica) in POINTS.items():
                fsm, rep = Path(tmp) / "p.fsm", Path(tmp) / "r.json"
                subprocess.run(["lerganc", f"{examples}/{model}.lergan", "--zero-free", zero_free, "--target", target,
                                "--replica", replica, "-o", fsm], check=True, capture_output=True)
                subprocess.run(["lergan-sim", fsm, "--timing-only", "--report", rep], check=True, capture_output=True)
                golden[f"{model}/{point}"] = snapshot(json.loads(rep.read_text()))
                print(model, point, file=sys.stderr)
    Path(out).write_text(json.dumps(golden, indent=0) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])

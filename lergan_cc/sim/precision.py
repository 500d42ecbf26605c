"""``--precision fixed16``'s error: the same program run in float32, compared tensor by tensor."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from lergan_cc.fsm.program import Program
from lergan_cc.sim.driver import SimOptions, SimResult, simulate


def _rel(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Errors relative to the float32 tensor's scale: max |d| / max |a| and mean |d| / mean |a|."""
    a64, d = a.astype(np.float64), np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_rel": float(d.max() / max(np.abs(a64).max(), 1e-30)),
            "mean_rel": float(d.mean() / max(np.abs(a64).mean(), 1e-30))}


def precision_error(program: Program, path: str, params: dict[str, np.ndarray], opts: SimOptions,
                    fixed: SimResult) -> dict[str, Any]:
    """Run the same program in float32 and compare what the fixed16 run produced: the outputs (or, for a
    GAN, the generator's first output, the losses and the weight updates of the run)."""
    ref = simulate(program, path, params, replace(opts, precision="float32", timing=False, trace=False))
    compared: dict[str, dict[str, float]] = {}
    for k, v in ref.snapshots.items():
        compared[k] = _rel(v, fixed.snapshots[k])
    for k, v in ref.outputs.items():
        compared[f"output:{k}"] = _rel(v, fixed.outputs[k])
    for k, losses in ref.losses.items():
        compared[f"loss:{k}"] = _rel(np.asarray(losses), np.asarray(fixed.losses[k]))
    if ref.losses:  # the SGD updates of every param together (new - initial): the gradients' error
        names = sorted(k for k in ref.params if k in params)
        delta = [np.concatenate([(r.params[k] - params[k]).ravel() for k in names]) for r in (ref, fixed)]
        compared["weight updates"] = _rel(delta[0], delta[1])
    return {"precision": "fixed16", "reference": "float32", "compared": compared}

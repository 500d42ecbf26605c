"""The paper's qualitative claims (§VI-C, -D), checked on the results: which hold, and where not.

Each check reads the rows and returns whether the claim holds and, if not, on which benchmarks it
fails, so ``docs/results.md`` can say so plainly instead of the model being bent to fit.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from lergan_cc.bench.tables import Rows, index, models_of

Check = Callable[[Rows], tuple[bool | None, str]]


def _time(by: dict, m: str, c: str) -> float | None:
    return by.get((m, c), {}).get("time_ns")


def _per_model(rows: Rows, holds: Callable[[dict, str], bool | None]) -> tuple[bool | None, str]:
    """All benchmarks satisfy ``holds``; the detail names those that do not (None: no data)."""
    by = index(rows)
    verdicts = {m: holds(by, m) for m in models_of(rows)}
    known = {m: v for m, v in verdicts.items() if v is not None}
    if not known:
        return None, "no data"
    bad = [m for m, v in known.items() if not v]
    return not bad, ("fails on " + ", ".join(bad)) if bad else f"all {len(known)} benchmarks"


def _less(*configs: str, field: str = "time_ns") -> Callable[[dict, str], bool | None]:
    """``field`` strictly decreases along ``configs`` (non-strictly for equal replica results)."""
    def holds(by: dict, m: str) -> bool | None:
        vs = [by.get((m, c), {}).get(field) for c in configs]
        if any(v is None for v in vs):
            return None
        return all(a >= b for a, b in pairwise(vs)) and vs[0] > vs[-1]
    return holds


def _gain(rows: Rows, config: str, field: str = "speedup_vs_prime") -> dict[str, float]:
    by = index(rows)
    return {m: by[(m, config)][field] for m in models_of(rows) if by.get((m, config), {}).get(field) is not None}


def least_gain(model: str, config: str, field: str = "speedup_vs_prime") -> Check:
    def check(rows: Rows) -> tuple[bool | None, str]:
        g = _gain(rows, config, field)
        if model not in g or len(g) < 2:
            return None, "no data"
        low = min(g, key=g.__getitem__)
        return low == model, f"least: {low} {g[low]:.3g}×" + ("" if low == model else f"; {model} {g[model]:.3g}×")
    return check


def most_gain(models: tuple[str, ...], config: str, field: str = "speedup_vs_prime") -> Check:
    """The benchmarks with the largest ``field`` are exactly ``models`` (as many as are present)."""
    def check(rows: Rows) -> tuple[bool | None, str]:
        g = _gain(rows, config, field)
        wanted = [m for m in models if m in g]
        if not wanted or len(g) <= len(wanted):
            return None, "no data"
        top = sorted(g, key=g.__getitem__, reverse=True)[: len(wanted)]
        return set(top) == set(wanted), "top: " + ", ".join(f"{m} {g[m]:.3g}×" for m in top)
    return check


def every(make: Callable[[str, str], Check], configs: tuple[str, ...], fields: tuple[str, ...]) -> Check:
    """``make(config, field)`` holds for every design point and field present; the detail names each case."""
    def check(rows: Rows) -> tuple[bool | None, str]:
        cases = {(c, f): make(c, f)(rows) for c in configs for f in fields}
        known = {k: v for k, v in cases.items() if v[0] is not None}
        if not known:
            return None, "no data"
        detail = "; ".join(f"{c} {f.removeprefix('speedup_vs_')}: {d}" for (c, f), (_, d) in known.items())
        return all(h for h, _ in known.values()), detail
    return check


def energy_split(savers: tuple[str, ...], spenders: tuple[str, ...], config: str, field: str) -> Check:
    """``field`` (an energy saving) exceeds 1 on ``savers`` and not on ``spenders``; the detail names the misses."""
    def check(rows: Rows) -> tuple[bool | None, str]:
        g = _gain(rows, config, field)
        want = {m: True for m in savers if m in g} | {m: False for m in spenders if m in g}
        if not want:
            return None, "no data"
        wrong = [m for m, saves in want.items() if (g[m] > 1.0) != saves]
        shown = ", ".join(f"{m} {g[m]:.2f}×" for m in want)
        return not wrong, (f"wrong side: {', '.join(wrong)}; " if wrong else "") + shown
    return check


def _dup_helps_3d_more(sfx: str) -> Callable[[dict, str], bool | None]:
    def holds(by: dict, m: str) -> bool | None:
        t = [_time(by, m, c + sfx) for c in ("3d-zfdr", "lergan-low", "2d-zfdr", "2d-zfdr-low")]
        a, b, c, d = t
        if a is None or b is None or c is None or d is None:
            return None
        return a / b > c / d
    return holds


DISCOGAN = ("discogan_4pairs", "discogan_5pairs")
LEVELS = ("lergan-low", "lergan-middle", "lergan-high")
VS_NON_PIM = ("speedup_vs_fpga", "speedup_vs_gpu")
FPGA_SAVERS = ("dcgan", "cgan", "3dgan", "artgan_cifar10", "gpgan")


def _family(sfx: str) -> dict[str, tuple[str, Check]]:
    """The claims about one family of design points: the one-copy points (``sfx`` empty) or the
    whole-machine ones (``-dp``: every phase as many copies as its bank holds, the paper's overlaps)."""
    levels = tuple(c + sfx for c in LEVELS)
    low = "lergan-low" + sfx
    return {
        "3d_beats_htree_zfdr": ("3-D connection beats the H-tree with ZFDR (Fig. 17)",
                                lambda rows: _per_model(rows, _less("2d-zfdr" + sfx, "3d-zfdr" + sfx))),
        "duplication_helps_3d_more": ("duplication (low) helps much more with 3-D connection than with the H-tree "
                                      "(Fig. 17)", lambda rows: _per_model(rows, _dup_helps_3d_more(sfx))),
        "more_replicas_faster": ("more replicas are faster: LerGAN high ≤ middle ≤ low < no duplication (Fig. 19)",
                                 lambda rows: _per_model(rows, _less("3d-zfdr" + sfx, *levels))),
        "more_replicas_more_energy": ("more replicas cost more energy: LerGAN low < middle < high (Fig. 20)",
                                      lambda rows: _per_model(rows, _less(*reversed(levels), field="energy_pj"))),
        "magan_gains_least": ("MAGAN-MNIST gains least (LerGAN-low over PRIME, Fig. 19)",
                              least_gain("magan_mnist", low)),
        "dcgan_discogan_gain_most": ("DCGAN and DiscoGAN gain most over PRIME (LerGAN-low; issue 7's reading — the "
                                     "paper says it of DiscoGAN over FPGA and GPU, Fig. 21)",
                                     most_gain((*DISCOGAN, "dcgan"), low)),
        "discogan_gains_most_vs_gpu_fpga": ("DiscoGAN gains most over the FPGA-GAN accelerator and the GPU, at "
                                            "every LerGAN degree (Fig. 21)",
                                            every(lambda c, f: most_gain(DISCOGAN, c, f), levels, VS_NON_PIM)),
        "magan_gains_least_vs_gpu_fpga": ("MAGAN-MNIST gains least over the FPGA-GAN accelerator and the GPU, at "
                                          "every LerGAN degree (Fig. 21)",
                                          every(lambda c, f: least_gain("magan_mnist", c, f), levels, VS_NON_PIM)),
        "energy_vs_fpga_split": ("LerGAN-low saves energy over FPGA-GAN on the five left GANs of Fig. 22 and not on "
                                 "MAGAN-MNIST and DiscoGAN",
                                 energy_split(FPGA_SAVERS, ("magan_mnist", *DISCOGAN), low, "energy_saving_vs_fpga")),
        "dcgan_over_3dgan_gpgan": ("DCGAN gains more than 3D-GAN and GPGAN (larger kernels, Fig. 19)",
                                   lambda rows: _dcgan_over(rows, low)),
    }


def _all_checks() -> dict[str, tuple[str, Check]]:
    serial = {"zfdr_beats_nr_3d": ("ZFDR beats normal reshape under 3-D connection (Fig. 18)",
                                   lambda rows: _per_model(rows, _less("3d-nr", "3d-zfdr"))),
              **_family("")}
    whole = {f"{name}_dp": (f"{claim} — whole machine (-dp points)", check)
             for name, (claim, check) in _family("-dp").items()}
    return {**serial, **whole}


CHECKS: dict[str, tuple[str, Check]] = _all_checks()


def _dcgan_over(rows: Rows, config: str) -> tuple[bool | None, str]:
    g = _gain(rows, config)
    if not {"dcgan", "3dgan", "gpgan"} <= set(g):
        return None, "no data"
    return g["dcgan"] > max(g["3dgan"], g["gpgan"]), ", ".join(f"{m} {g[m]:.2f}×" for m in ("dcgan", "3dgan", "gpgan"))


def evaluate(rows: Rows) -> list[dict[str, Any]]:
    """Every claim with ``holds`` (True, False, or None when the run lacks the data) and a detail."""
    out = []
    for name, (claim, check) in CHECKS.items():
        holds, detail = check(rows)
        out.append({"name": name, "claim": claim, "holds": holds, "detail": detail})
    return out


def markdown(verdicts: list[dict[str, Any]]) -> str:
    mark = {True: "holds", False: "**does not hold**", None: "not run"}
    lines = ["| claim | verdict | detail |", "| --- | --- | --- |"]
    lines += [f"| {v['claim']} | {mark[v['holds']]} | {v['detail']} |" for v in verdicts]
    return "\n".join(lines) + "\n"

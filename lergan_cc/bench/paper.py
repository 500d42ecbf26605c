"""Every number the paper's §VI states, beside ours: a table of (claim, paper value, how we compute ours).

Energy groups follow Fig. 23: *computation* is everything a ReRAM tile does (MMV peripherals and
arrays, cell writes, tile buffers), *communication* every wire and switch, *host* the CPU's loss and
update. Fig. 24's tile breakdown is the share of ADC and of cell writes within a tile's energy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lergan_cc.bench.results import mean
from lergan_cc.bench.tables import Rows, flat, fmt

# Fig. 23 groups: a breakdown key belongs to the first group whose prefix it starts with.
GROUPS: dict[str, tuple[str, ...]] = {
    "computation": ("compute", "cell_writes", "buffers"),
    "communication": ("interconnect", "switches"),
    "host": ("host",),
}
TILE_PARTS = ("adc", "dac", "sample_hold", "array", "shift_add", "alu", "cell_writes", "buffers")

Ours = Callable[[Rows, Rows], str]


@dataclass(frozen=True)
class Claim:
    what: str
    where: str
    paper: str
    ours: Ours


def _mean_of(field: str, *configs: str) -> Ours:
    def ours(rows: Rows, _: Rows) -> str:
        return " / ".join(f"{fmt(mean([r.get(field) for r in rows if r['config'] == c]))}×" for c in configs)
    return ours


def _sarray(key: str, model: str | None) -> Ours:
    def ours(_: Rows, sarray: Rows) -> str:
        values = [s.get(key) for s in sarray if model is None or s["model"] == model]
        return f"{fmt(mean(values))}×"
    return ours


def group_shares(breakdown: dict[str, Any]) -> dict[str, float]:
    """Fig. 23: percent of the total energy per group of ``GROUPS``."""
    parts = flat(breakdown)
    total = sum(parts.values()) or 1.0
    out = dict.fromkeys(GROUPS, 0.0)
    for key, value in parts.items():
        group = next((g for g, prefixes in GROUPS.items() if key.startswith(prefixes)), "other")
        out[group] = out.get(group, 0.0) + 100 * value / total
    return out


def tile_shares(report_parts: dict[str, float]) -> dict[str, float]:
    """Fig. 24: percent of a tile's energy (compute parts + cell writes + buffers) per part."""
    total = sum(report_parts.get(p, 0.0) for p in TILE_PARTS) or 1.0
    return {p: 100 * report_parts.get(p, 0.0) / total for p in TILE_PARTS}


def _share(config: str, group: str) -> Ours:
    def ours(rows: Rows, _: Rows) -> str:
        vals = [group_shares(r["energy_breakdown"]).get(group) for r in rows
                if r["config"] == config and r.get("energy_breakdown")]
        return f"{fmt(mean(vals), 1)} %"
    return ours


def _tile(config: str, part: str) -> Ours:
    def ours(rows: Rows, _: Rows) -> str:
        vals = [tile_shares(r["tile_energy"])[part] for r in rows if r["config"] == config and r.get("tile_energy")]
        return f"{fmt(mean(vals), 1)} %"
    return ours


LEVELS = ("lergan-low", "lergan-middle", "lergan-high")
CLAIMS: tuple[Claim, ...] = (
    Claim("ZFDR + 3-D connection, with duplication (low), speedup over PRIME", "Fig. 18", "5.11×",
          _mean_of("speedup_vs_prime", "lergan-low")),
    Claim("ZFDR + 3-D connection, no duplication, speedup over PRIME", "Fig. 18", "2.77×",
          _mean_of("speedup_vs_prime", "3d-zfdr")),
    Claim("normal reshape + 3-D connection, speedup over PRIME", "Fig. 18", "1.31×",
          _mean_of("speedup_vs_prime", "3d-nr")),
    Claim("LerGAN speedup over PRIME (ours: low / middle / high)", "abstract, Fig. 19", "7.46×",
          _mean_of("speedup_vs_prime", *LEVELS)),
    Claim("LerGAN speedup over PRIME at the same space (ours: NS, low / middle / high)", "§VI-E", "2.1×",
          _mean_of("speedup_vs_prime_ns", *LEVELS)),
    Claim("LerGAN energy saving over PRIME (ours: low / middle / high)", "abstract", "7.68×",
          _mean_of("energy_saving_vs_prime", *LEVELS)),
    Claim("LerGAN speedup over the FPGA-GAN accelerator (ours: low / middle / high, over an ideal roofline)",
          "abstract, Fig. 21", "47.2×", _mean_of("speedup_vs_fpga", *LEVELS)),
    Claim("LerGAN speedup over the GPU (ours: low / middle / high, over an ideal Titan X roofline)",
          "abstract, Fig. 21", "21.42×", _mean_of("speedup_vs_gpu", *LEVELS)),
    Claim("LerGAN energy saving over the GPU (ours: low / middle / high)", "abstract, Fig. 22", "9.75×",
          _mean_of("energy_saving_vs_gpu", *LEVELS)),
    Claim("LerGAN energy saving over the FPGA-GAN accelerator (ours: low / middle / high)", "abstract, Fig. 22",
          "0.96× (1.04× its energy)", _mean_of("energy_saving_vs_fpga", *LEVELS)),
    Claim("LerGAN-low-NS energy saving over PRIME (ours: LerGAN-low; energy has no NS form)", "Fig. 20", "28.47×",
          _mean_of("energy_saving_vs_prime", "lergan-low")),
    Claim("SArray space saved by ZFDR, DCGAN (G_fwd T-CONV inputs)", "§VI-C", "5.2×", _sarray("g_fwd", "dcgan")),
    Claim("SArray space saved by ZFDR, mean of 8 (ours: G_fwd definition)", "§VI-C", "3.86×",
          _sarray("g_fwd", None)),
    Claim("SArray space saved by ZFDR, mean of 8 (ours: every ZFDR layer)", "§VI-C", "3.86×",
          _sarray("zfdr_phases", None)),
    Claim("computation share of LerGAN's energy (LerGAN-low)", "Fig. 23", "70.4 %",
          _share("lergan-low", "computation")),
    Claim("communication share of LerGAN's energy (LerGAN-low)", "Fig. 23", "16 %",
          _share("lergan-low", "communication")),
    Claim("ADC share of a tile's energy (LerGAN-low)", "Fig. 24", "45.14 %", _tile("lergan-low", "adc")),
    Claim("cell switching (writes) share of a tile's energy (LerGAN-low)", "Fig. 24", "40.16 %",
          _tile("lergan-low", "cell_writes")),
)


def side_by_side(rows: Rows, sarray: Rows) -> list[dict[str, str]]:
    return [{"claim": c.what, "where": c.where, "paper": c.paper, "ours": c.ours(rows, sarray)} for c in CLAIMS]


def markdown(pairs: list[dict[str, str]]) -> str:
    lines = ["| claim | where | paper | ours |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {p['claim']} | {p['where']} | {p['paper']} | {p['ours']} |" for p in pairs]
    return "\n".join(lines) + "\n"

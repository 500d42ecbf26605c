"""The benchmarks and design points of the evaluation, as data: names to files and to ``lerganc`` flags.

Every design point is a set of ``lerganc`` flags, so a row of the results can be reproduced by hand
with ``lerganc MODEL <flags> -o P.fsm && lergan-sim P.fsm --timing-only --report R.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lergan_cc.errors import LerganError, did_you_mean

BASELINE = "prime"


@dataclass(frozen=True)
class Config:
    """A design point: its ``lerganc`` flags and its label in plots."""

    flags: tuple[str, ...]
    label: str


def _flags(zero_free: str, target: str, replica: str) -> tuple[str, ...]:
    return ("--zero-free", zero_free, "--target", target, "--replica", replica)


# The whole machine (issue 14): as many sample-parallel copies of each phase as its bank holds, and the
# paper's overlaps of programming with computation (§IV-B).
PARALLEL = ("--data-parallel", "auto", "--overlap", "paper")


def _dp(zero_free: str, target: str, replica: str) -> tuple[str, ...]:
    return _flags(zero_free, target, replica) + PARALLEL


CONFIGS: dict[str, Config] = {
    "prime": Config(_flags("none", "htree-2d", "none"), "PRIME"),
    "2d-zfdr": Config(_flags("zfdr", "htree-2d", "none"), "2D-ZFDR"),
    "2d-zfdr-low": Config(_flags("zfdr", "htree-2d", "low"), "2D-ZFDR-low"),
    "3d-nr": Config(_flags("none", "lergan-3d", "none"), "3D-NR"),
    "3d-zfdr": Config(_flags("zfdr", "lergan-3d", "none"), "3D-ZFDR"),
    "lergan-low": Config(_flags("zfdr", "lergan-3d", "low"), "LerGAN-low"),
    "lergan-middle": Config(_flags("zfdr", "lergan-3d", "middle"), "LerGAN-middle"),
    "lergan-high": Config(_flags("zfdr", "lergan-3d", "high"), "LerGAN-high"),
    "zara-low": Config(_flags("deform", "lergan-3d", "low"), "ZARA-low"),
    "zara-middle": Config(_flags("deform", "lergan-3d", "middle"), "ZARA-middle"),
    "zara-high": Config(_flags("deform", "lergan-3d", "high"), "ZARA-high"),
    "prime-dp": Config(_dp("none", "htree-2d", "none"), "PRIME-dp"),
    "2d-zfdr-dp": Config(_dp("zfdr", "htree-2d", "none"), "2D-ZFDR-dp"),
    "2d-zfdr-low-dp": Config(_dp("zfdr", "htree-2d", "low"), "2D-ZFDR-low-dp"),
    "3d-zfdr-dp": Config(_dp("zfdr", "lergan-3d", "none"), "3D-ZFDR-dp"),
    "lergan-low-dp": Config(_dp("zfdr", "lergan-3d", "low"), "LerGAN-low-dp"),
    "lergan-middle-dp": Config(_dp("zfdr", "lergan-3d", "middle"), "LerGAN-middle-dp"),
    "lergan-high-dp": Config(_dp("zfdr", "lergan-3d", "high"), "LerGAN-high-dp"),
}

DP = "-dp"  # the suffix of the whole-machine design points


def baseline_of(config: str) -> str:
    """The PIM design point a row's ``speedup_vs_prime`` compares against: PRIME using the machine the
    same way (``prime-dp`` for the whole-machine points, whose PRIME keeps PRIME's bank-level parallelism)."""
    return f"{BASELINE}{DP}" if config.endswith(DP) else BASELINE


def serial_of(config: str) -> str | None:
    """The one-copy design point a whole-machine point extends (``lergan-low-dp`` -> ``lergan-low``)."""
    return config.removesuffix(DP) if config.endswith(DP) else None


# The non-PIM baselines (``baselines.py``: rooflines computed from the analysis on every run, never
# simulated) and the suffix of the result fields that compare against them (``speedup_vs_gpu``).
REFERENCES = {"gpu": "gpu", "fpga-gan": "fpga"}

# Table V, in the paper's order: name -> the label its figures use. Files are examples/<name>.lergan.
MODELS: dict[str, str] = {
    "dcgan": "DCGAN", "cgan": "cGAN", "3dgan": "3D-GAN", "artgan_cifar10": "ArtGAN-CIFAR-10",
    "gpgan": "GPGAN", "magan_mnist": "MAGAN-MNIST", "discogan_4pairs": "DiscoGAN-4pairs",
    "discogan_5pairs": "DiscoGAN-5pairs",
}


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    label: str


def examples_dir() -> Path:
    """The repository's ``examples/`` (editable install), else ``./examples``."""
    repo = Path(__file__).resolve().parents[2] / "examples"
    return repo if repo.is_dir() else Path("examples")


def split_names(text: str | None) -> list[str] | None:
    """``a,b`` -> ``[a, b]``; ``None`` or ``all`` -> ``None`` (every name)."""
    if text is None or text.strip() == "all":
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def select_configs(names: list[str] | None) -> list[str]:
    """The design points to simulate, in table order; the PRIME baseline is always among them, and ``prime-dp``
    with any whole-machine point (naming a roofline baseline is allowed: those are always computed)."""
    if names is None:
        return list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS and n not in REFERENCES]
    if unknown:
        raise LerganError(f"--configs: unknown design point '{unknown[0]}'"
                          f"{did_you_mean(unknown[0], [*CONFIGS, *REFERENCES])} (known: {', '.join(CONFIGS)}; "
                          f"{', '.join(REFERENCES)} are always computed)")
    wanted = {BASELINE, *names, *(baseline_of(n) for n in names if n in CONFIGS)}
    return [n for n in CONFIGS if n in wanted]


def select_models(names: list[str] | None, examples: Path | None = None) -> list[Model]:
    """Table V names (``examples/<name>.lergan``) or paths to ``.lergan`` files, in the order given."""
    examples = examples or examples_dir()
    if names is None:
        names = list(MODELS)
    return [_model(n, examples) for n in names]


def _model(name: str, examples: Path) -> Model:
    if name in MODELS:
        path = examples / f"{name}.lergan"
        if not path.is_file():
            raise LerganError(f"--models: {path}: no such file (run from the repository or pass a path)")
        return Model(name, path, MODELS[name])
    path = Path(name)
    if path.suffix == ".lergan" and path.is_file():
        return Model(path.stem, path, path.stem)
    raise LerganError(f"--models: unknown benchmark '{name}'{did_you_mean(name, MODELS)} (known: "
                      f"{', '.join(MODELS)}, or a .lergan file)")

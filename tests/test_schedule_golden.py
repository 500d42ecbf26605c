"""Without sample-parallel copies the schedule is what it was before them: for every benchmark and design
point of lergan-bench, the same per-layer MMV rounds, time and energy as the golden written by the
commit before issue 14 (tests/data/make_schedule_golden.py), though the program is now spelled with
the compact copy operand. The default run checks two design points per benchmark (one with replicas);
LERGAN_GOLDEN=all checks all 88."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lergan_cc import api
from lergan_cc.options import Options
from tests.conftest import EXAMPLES
from tests.data.make_schedule_golden import MODELS, POINTS, snapshot

GOLDEN = json.loads((Path(__file__).parent / "data" / "schedule-golden.json").read_text())
DEFAULT = {"dcgan": ("lergan-high", "prime"), "cgan": ("lergan-middle", "2d-zfdr"),
           "3dgan": ("lergan-low", "zara-high"), "artgan_cifar10": ("2d-zfdr-low", "3d-nr"),
           "gpgan": ("zara-middle", "3d-zfdr"), "magan_mnist": ("lergan-high", "prime"),
           "discogan_4pairs": ("lergan-high", "zara-low"), "discogan_5pairs": ("lergan-middle", "2d-zfdr")}
CASES = [(m, p) for m in MODELS for p in POINTS] if os.environ.get("LERGAN_GOLDEN") == "all" else \
    [(m, p) for m, points in DEFAULT.items() for p in points]


@pytest.mark.parametrize(("model", "point"), CASES)
def test_schedule_is_unchanged(model: str, point: str) -> None:
    zero_free, target, replica = POINTS[point]
    program = api.compile_program(str(EXAMPLES / f"{model}.lergan"),
                                  Options(zero_free=zero_free, target=target, replica=replica), warn=lambda _: None)
    report = api.simulate(program, timing_only=True).report
    assert report is not None
    assert snapshot(report) == GOLDEN[f"{model}/{point}"]

"""The schedule does not change unnoticed: for every benchmark and design point of lergan-bench, the same
per-layer MMV rounds, time and energy as a golden written by an earlier commit
(tests/data/make_schedule_golden.py).

- The one-copy design points against the golden of the commit before issue 14 (sample-parallel copies and
  the compact copy operand came after it; without copies the schedule is what it was).
- The whole-machine design points (``-dp``) against the golden of the event-by-event timing model before
  the fast one (issue 15): the fast model must give every figure of the report exactly, bit for bit, so
  these entries also hold the digest of the whole report.

The default run checks a few design points per benchmark; LERGAN_GOLDEN=all checks all 144."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lergan_cc import api
from lergan_cc.options import Options
from tests.conftest import EXAMPLES
from tests.data.make_schedule_golden import DP_POINTS, MODELS, POINTS, report_digest, snapshot

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "schedule-golden.json").read_text())
GOLDEN_DP = json.loads((DATA / "schedule-golden-dp.json").read_text())
DEFAULT = {"dcgan": ("lergan-high", "prime"), "cgan": ("lergan-middle", "2d-zfdr"),
           "3dgan": ("lergan-low", "zara-high"), "artgan_cifar10": ("2d-zfdr-low", "3d-nr"),
           "gpgan": ("zara-middle", "3d-zfdr"), "magan_mnist": ("lergan-high", "prime"),
           "discogan_4pairs": ("lergan-high", "zara-low"), "discogan_5pairs": ("lergan-middle", "2d-zfdr")}
DEFAULT_DP = {"dcgan": ("lergan-low-dp",), "magan_mnist": ("lergan-high-dp",), "cgan": ("prime-dp",)}
ALL = os.environ.get("LERGAN_GOLDEN") == "all"
CASES = [(m, p) for m in MODELS for p in POINTS] if ALL else \
    [(m, p) for m, points in DEFAULT.items() for p in points]
CASES_DP = [(m, p) for m in MODELS for p in DP_POINTS] if ALL else \
    [(m, p) for m, points in DEFAULT_DP.items() for p in points]


def _report(model: str, opts: Options) -> dict:
    program = api.compile_program(str(EXAMPLES / f"{model}.lergan"), opts, warn=lambda _: None)
    report = api.simulate(program, timing_only=True).report
    assert report is not None
    return report


@pytest.mark.parametrize(("model", "point"), CASES)
def test_schedule_is_unchanged(model: str, point: str) -> None:
    zero_free, target, replica = POINTS[point]
    report = _report(model, Options(zero_free=zero_free, target=target, replica=replica))
    assert snapshot(report) == GOLDEN[f"{model}/{point}"]


@pytest.mark.parametrize(("model", "point"), CASES_DP)
def test_whole_machine_schedule_is_unchanged(model: str, point: str) -> None:
    zero_free, target, replica = DP_POINTS[point]
    report = _report(model, Options(zero_free=zero_free, target=target, replica=replica, data_parallel="auto",
                                    overlap="paper"))
    golden = GOLDEN_DP[f"{model}/{point}"]
    assert snapshot(report) == {k: v for k, v in golden.items() if k != "report_sha256"}
    assert report_digest(report) == golden["report_sha256"]

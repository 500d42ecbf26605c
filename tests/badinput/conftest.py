"""Fixtures of the bad-input suite and its count: how many cases ran, how many kept the promise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.badinput import harness, seeds

LONG = os.environ.get("LERGAN_FUZZ", "") == "long"


@pytest.fixture(scope="session")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return seeds.build(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cases")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not harness.LEDGER:
        return
    generated = [kept for _, gen, kept in harness.LEDGER if gen]
    explicit = [kept for _, gen, kept in harness.LEDGER if not gen]
    terminalreporter.write_line(
        f"bad-input suite: {len(generated)} generated cases, {sum(generated)} kept the promise; "
        f"{len(explicit)} explicit cases, {sum(explicit)} kept it"
    )

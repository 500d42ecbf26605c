"""Every class of bad input issue 13 lists, through the real CLIs: the promise kept, each error saying what."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.badinput import cases
from tests.badinput.harness import describe, run_case

WORKERS = 2


def test_every_listed_class_keeps_the_promise(seed_files: dict[str, bytes], case_dir: Path) -> None:
    todo = cases.all_cases(seed_files)
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda c: run_case(c, case_dir), todo))
    broken = [describe(o) for o in outcomes if o.problems]
    assert not broken, f"{len(broken)} of {len(todo)} cases broke the promise:\n" + "\n".join(broken)

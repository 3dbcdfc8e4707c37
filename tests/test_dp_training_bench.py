"""The ``dp`` benchmark suite: registry, targets, and one quick case run in-process.

Nothing here asserts a speed; the full suite runs with ``python -m benchmarks dp``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("torch", reason="the dp suite needs privkit[torch]")
pytest.importorskip("opacus", reason="the dp suite needs privkit[torch]")

from benchmarks.core import OneShot
from benchmarks.suites import load_suite

pytestmark = pytest.mark.filterwarnings(
    "ignore:Full backward hook is firing:UserWarning",
    "ignore:Secure RNG turned off:UserWarning",
)


def test_registry_has_dp() -> None:
    suite = load_suite("dp")
    assert suite.name == "dp"
    assert suite.reference == "privkit"
    assert {t.vs for t in suite.targets} <= set(suite.implementations)


def test_quick_cases_and_targets_name_real_cases() -> None:
    suite = load_suite("dp")
    quick = [c.name for c in suite.cases(quick=True)]
    for model in ("mlp", "cnn"):
        for mode in ("hooks", "functorch", "ew", "ghost", "auto"):
            assert f"{model} {mode}" in quick
    full = {c.name for c in suite.cases(quick=False)}
    assert {t.case for t in suite.targets} <= full


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """prepare() pins torch to one thread (a process-wide setting): restore it."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("torch_threads")
def test_cnn_auto_case_runs_and_records_mode_and_memory() -> None:
    suite = load_suite("dp")
    suite.prepare()
    case = next(c for c in suite.cases(quick=True) if c.name == "cnn auto")
    jobs = suite.setup(case)
    assert set(jobs) == {
        "privkit",
        "opacus-hooks",
        "opacus-functorch",
        "opacus-ew",
        "opacus-ghost",
        "torch",
    }
    for job in jobs.values():
        (job.prepare() if isinstance(job, OneShot) else job)()
    info = suite.case_info(case)
    assert info["privkit_mode"] == "single-pass"
    assert set(info["peak_memory_bytes"]) == set(jobs)

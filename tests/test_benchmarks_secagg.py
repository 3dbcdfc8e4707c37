"""Smoke test of the ``secagg`` benchmark suite (quick mode, in a subprocess).

Nothing here asserts a speed.  The run must produce a well-formed result whose
Flower anchors ran and whose Flower cross-checks pass; privkit's rows and
checks are asserted only where ``privkit.secagg`` / ``privkit.sharing.shamir``
import (they are optional for the suite while they are being written).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from benchmark_schema import ROW_KEYS

from benchmarks.core import Case, Job, OneShot, Suite, run_suite
from benchmarks.report import render_markdown
from benchmarks.suites import load_suite

REPO = Path(__file__).resolve().parents[1]

QUICK_CASES = [
    "client k=4",
    "server k=4 c=10",
    "server complete c=10",
    "shamir split n=10",
    "shamir combine n=10",
]
FLOWER_CHECKS = {
    "flower_mask_glue_equals_mod",
    "flower_round_end_to_end",
    "flower_unmask_fixture",
    "flower_shamir_roundtrip",
}


def _importable(module: str, attribute: str) -> bool:
    """Whether ``module`` imports and has ``attribute`` (as the suite decides)."""
    try:
        return hasattr(importlib.import_module(module), attribute)
    except Exception:  # ImportError, or a native extension's own check
        return False


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _rows(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["implementation"]: r for r in case["results"]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    pytest.importorskip("flwr", reason="Flower (the anchor) is not installed: privkit[flower]")
    out = tmp_path_factory.mktemp("secagg")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "secagg", "--quick", "--out", str(out)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    data = json.loads((out / "secagg.json").read_text(encoding="utf-8"))
    # Exit 1 only for a failed correctness check; the assertions below say which.
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    failed = [c["name"] for c in data["checks"] if not c["passed"]]
    assert (proc.returncode == 1) == bool(failed), (failed, proc.stderr)
    return data, proc.stdout, out


def test_registry_entry_loads_without_flower_imports() -> None:
    suite = load_suite("secagg")
    assert suite.name == "secagg"
    assert suite.reference == "privkit"
    assert {t.case for t in suite.targets} == {
        "client k=100",
        "server k=10 c=100",
        "server complete c=100",
    }
    # --list must not import the anchor (the suite module imports flwr lazily)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, benchmarks.suites.secagg; print('flwr' in sys.modules)",
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_quick_result_shape(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    data, stdout, out = quick_run
    assert data["suite"] == "secagg"
    assert data["quick"] is True
    assert data["schema"] == 2
    assert [c["case"] for c in data["cases"]] == QUICK_CASES
    repeats = data["config"]["repeats"]
    for case in data["cases"]:
        assert case["repeats"] == repeats  # no per-case rounds in quick mode
        assert len(case["order"]) == repeats
        for row in case["results"]:
            assert set(row) == ROW_KEYS
            assert len(row["times_s"]) == repeats
            assert all(t > 0 for t in row["times_s"])
        info = case["info"]
        assert set(info["peak_memory_bytes"]) == set(_rows(case))
        assert all(v >= 0 for v in info["peak_memory_bytes"].values())
        assert info["memory_method"] in {"rss", "tracemalloc"}
    # quick sizes never evaluate the full-size targets
    assert [t["status"] for t in data["targets"]] == ["NOT RUN"] * 4
    assert "| client k=4 | flower-secaggplus |" in stdout
    assert (out / "secagg.md").is_file()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "secagg.png").read_bytes()[:4] == b"\x89PNG"


def test_quick_flower_side(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    data, _, _ = quick_run
    checks = {c["name"]: c for c in data["checks"]}
    assert set(checks) >= FLOWER_CHECKS
    for name in FLOWER_CHECKS:
        assert checks[name]["passed"], checks[name]
    cases = {c["case"]: c for c in data["cases"]}
    client = cases["client k=4"]
    assert {"flower-secaggplus", "flower-secaggplus-stage2"} <= set(_rows(client))
    uploads = client["info"]["upload_bytes_per_parameter"]
    # int64 words holding values mod 2^32, plus the npy headers at n = 1,000
    assert 8.0 <= uploads["flower-secaggplus"] < 8.5
    assert uploads["flower-secaggplus-stage2"] == uploads["flower-secaggplus"]
    for name in ("server k=4 c=10", "server complete c=10"):
        case = cases[name]
        assert "flower-secaggplus" in _rows(case)
        info = case["info"]
        assert info["max_abs_error"]["flower-secaggplus"] <= info["flower_tolerance"]
        assert info["flower"]["clients"] == 10
        assert info["flower"]["dropped"] == 1
    assert cases["server complete c=10"]["info"]["flower"]["threshold"] == 6
    assert cases["server k=4 c=10"]["info"]["flower"]["num_shares"] == 5
    for name in ("shamir split n=10", "shamir combine n=10"):
        assert "flower-secaggplus" in _rows(cases[name])
    assert data["suite_info"]["flwr"]


def test_quick_privkit_secagg_rows(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    if not _importable("privkit.secagg", "SecAgg"):
        pytest.skip("privkit.secagg is not importable yet: the suite ran Flower's anchors only")
    data, _, _ = quick_run
    cases = {c["case"]: c for c in data["cases"]}
    for name in ("client k=4", "server k=4 c=10", "server complete c=10"):
        rows = _rows(cases[name])
        assert "privkit" in rows, name
        assert rows["privkit"]["ratio"] == 1.0
        assert rows["flower-secaggplus"]["ratio"] > 0
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["privkit_upload_bytes_per_parameter"]["passed"], checks
    assert checks["privkit_secagg_sum"]["passed"], checks["privkit_secagg_sum"]
    uploads = cases["client k=4"]["info"]["upload_bytes_per_parameter"]
    assert uploads["privkit"] < 4.5  # 4 bytes per parameter plus the envelope at n = 1,000
    for name in ("server k=4 c=10", "server complete c=10"):
        info = cases[name]["info"]
        assert info["max_abs_error"]["privkit"] is not None
        assert info["max_abs_error"]["privkit"] <= info["privkit_tolerance"]
    if _importable("privkit.prg", "mask_add"):
        assert "floor-mask-expansion" in _rows(cases["client k=4"])


def test_quick_privkit_shamir_rows(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    if not _importable("privkit.sharing.shamir", "split"):
        pytest.skip("privkit.sharing.shamir is not importable yet: Flower's rows only")
    data, _, _ = quick_run
    cases = {c["case"]: c for c in data["cases"]}
    for name in ("shamir split n=10", "shamir combine n=10"):
        assert "privkit" in _rows(cases[name])
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["privkit_shamir_roundtrip"]["passed"]


# ------------------------------------------- runner features the suite relies on


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _OneShotSuite(Suite):
    """privkit is a OneShot whose prepare() costs 50 s (must not be timed); anchor 2 s."""

    name = "oneshot"
    description = "one-shot jobs, per-case repeats, case info"
    implementations = ("privkit", "anchor")
    repeats = 4
    reference_required = False

    def __init__(self, clock: _Clock, *, with_reference: bool = True) -> None:
        self.clock = clock
        self.with_reference = with_reference
        self.prepared = 0
        self.ran = 0
        self.infos: list[str] = []

    def cases(self, *, quick: bool) -> Sequence[Case]:
        return [Case("small", 1.0), Case("big", 1.0, repeats=2)]

    def setup(self, case: Case) -> Mapping[str, Job]:
        def prepare() -> Callable[[], object]:
            self.prepared += 1
            self.clock.now += 50.0
            token = object()

            def run() -> object:
                self.ran += 1
                self.clock.now += 1.0
                return token

            return run

        def anchor() -> None:
            self.clock.now += 2.0

        jobs: dict[str, Job] = {"anchor": anchor}
        if self.with_reference:
            jobs["privkit"] = OneShot(prepare)
        return jobs

    def case_info(self, case: Case) -> Mapping[str, Any]:
        self.infos.append(case.name)
        return {"seen": case.name}


def test_oneshot_prepared_untimed_before_every_call() -> None:
    clock = _Clock()
    suite = _OneShotSuite(clock)
    result = run_suite(suite, timer=clock, log=None)
    small, big = result["cases"]
    assert small["repeats"] == 4
    assert big["repeats"] == 2
    assert result["config"]["repeats"] == 4
    # one preparation per call, warm-ups included; none of their 50 s is timed
    assert suite.prepared == suite.ran == (1 + 4) + (1 + 2)
    assert _rows(small)["privkit"]["times_s"] == [1.0] * 4
    assert _rows(big)["privkit"]["times_s"] == [1.0] * 2
    assert _rows(small)["anchor"]["ratio"] == 2.0
    assert small["info"] == {"seen": "small"}
    assert suite.infos == ["small", "big"]
    # an explicit repeats applies to every case, the expensive one included
    clock2 = _Clock()
    again = run_suite(_OneShotSuite(clock2), repeats=3, timer=clock2, log=None)
    assert [c["repeats"] for c in again["cases"]] == [3, 3]


def test_optional_reference_leaves_ratios_undefined() -> None:
    clock = _Clock()
    result = run_suite(_OneShotSuite(clock, with_reference=False), timer=clock, log=None)
    for case in result["cases"]:
        assert list(_rows(case)) == ["anchor"]
        assert _rows(case)["anchor"]["ratio"] is None
    assert "| small | anchor | 2.00 s | 0.500 op/s | n/a |" in render_markdown(result)
    assert "- small: seen = small" in render_markdown(result)


def test_probe_first_call_measures_only_the_warm_up() -> None:
    from benchmarks.suites._memory import measure_peak, probe_first_call

    seen: list[tuple[object, dict[str, Any]]] = []
    calls: list[int] = []

    def job() -> int:
        calls.append(1)
        return len(bytearray(8 << 20))  # 8 MiB, touched

    wrapped = probe_first_call(job, lambda r, m: seen.append((r, m)))
    assert wrapped() == wrapped() == 8 << 20
    assert len(calls) == 2
    assert len(seen) == 1
    result, memory = seen[0]
    assert result == 8 << 20
    assert memory["method"] in {"rss", "tracemalloc"}
    assert memory["peak_bytes"] >= 4 << 20
    _, again = measure_peak(lambda: None)
    assert again["peak_bytes"] < 4 << 20

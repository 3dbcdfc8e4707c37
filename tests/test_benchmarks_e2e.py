"""Smoke test of the ``e2e`` benchmark suite (quick mode, in a subprocess).

Nothing here asserts a speed: the quick run must produce a well-formed result with a
privkit round and the FedAvg anchor per scheme, the per-round costs in each case's info,
and every scheme's aggregate checked against the exact one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmark_schema import ROW_KEYS

from benchmarks.suites import load_suite

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "e2e", "--quick", "--no-plot", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads((out / "e2e.json").read_text(encoding="utf-8"))
    return result


def test_registry_has_e2e() -> None:
    suite = load_suite("e2e")
    assert suite.name == "e2e"
    assert suite.implementations[:2] == ("privkit", "fedavg")


def test_quick_run_times_every_scheme_against_fedavg(quick_run: dict[str, Any]) -> None:
    names = [c["case"] for c in quick_run["cases"]]
    assert {"plain", "secagg", "secagg+"} <= set(names)
    for case in quick_run["cases"]:
        rows = {r["implementation"]: r for r in case["results"]}
        expected = {"privkit", "fedavg"}
        if case["case"] == "secagg via flower":
            expected |= {"privkit-local", "flower-fedavg"}
        assert set(rows) == expected
        for row in rows.values():
            assert set(row) >= ROW_KEYS
            assert row["median_s"] > 0
        info = case["info"]
        if case["case"] == "secagg via flower":
            assert "in-process" in info["grid"]
            continue
        assert info["bytes_up_per_client"] > 0
        assert info["exchanges"][0]["index"] == 0
    secagg = next(c for c in quick_run["cases"] if c["case"] == "secagg")
    # SecAgg uploads 4 bytes per parameter plus keys and shares: far below plain's 8
    plain = next(c for c in quick_run["cases"] if c["case"] == "plain")
    assert secagg["info"]["bytes_up_per_parameter"] < plain["info"]["bytes_up_per_parameter"]


def test_quick_run_checks_every_aggregate(quick_run: dict[str, Any]) -> None:
    checks = {c["name"]: c for c in quick_run["checks"]}
    assert {"aggregate_plain", "aggregate_secagg", "aggregate_secagg+"} <= set(checks)
    assert all(c["passed"] for c in checks.values()), checks

"""Smoke test of the ``ledger`` benchmark suite (quick mode, in a subprocess).

Nothing here asserts a speed: the quick run must produce a well-formed result in which
every row ran and the untimed checks pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmark_schema import ROW_KEYS

from benchmarks.suites import load_suite

REPO = Path(__file__).resolve().parents[1]


def test_registry_has_ledger() -> None:
    suite = load_suite("ledger")
    assert suite.name == "ledger"
    assert [c.name for c in suite.cases(quick=True)] == ["append x100", "verify n=10^3"]
    assert [c.name for c in suite.cases(quick=False)] == ["append x1000", "verify n=10^5"]


def test_quick_run(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "ledger",
            "--quick",
            "--no-plot",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "ledger.json").read_text(encoding="utf-8"))
    assert result["suite"] == "ledger"
    cases = {c["case"]: c for c in result["cases"]}
    assert set(cases) == {"append x100", "verify n=10^3"}
    impls = {c: {r["implementation"] for r in cases[c]["results"]} for c in cases}
    assert impls == {
        "append x100": {"privkit", "sqlite-insert"},
        "verify n=10^3": {"privkit", "sqlite-read"},
    }
    for case in cases.values():
        for row in case["results"]:
            assert set(row) == ROW_KEYS
            assert all(t >= 0.0 for t in row["times_s"])
    assert all(c["passed"] for c in result["checks"])

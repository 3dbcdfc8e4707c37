"""Smoke test of the ``zk`` benchmark suite (quick mode, in a subprocess).

Nothing here asserts a speed.  The quick run must produce a well-formed result in which
both rows ran, the cross-checks against libsodium pass and the extrapolation of the
libsodium sample is the documented arithmetic.
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
from benchmarks.suites import zk as zk_suite

REPO = Path(__file__).resolve().parents[1]
QUICK_CASES = ["pedersen n=10^3", "msm full n=2^10"]
ANCHOR = "libsodium-loop-sample"


def _rows(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["implementation"]: r for r in case["results"]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    pytest.importorskip("rbcl", reason="rbcl (libsodium, the anchor) is not installed")
    out = tmp_path_factory.mktemp("zk")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "zk", "--quick", "--no-plot", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "zk.json").read_text(encoding="utf-8"))
    return result, proc.stdout, out


def test_registry_has_zk() -> None:
    suite = load_suite("zk")
    assert suite.name == "zk"
    assert suite.implementations == ("privkit", ANCHOR)
    (target,) = suite.targets
    assert target.case == "pedersen n=10^6"
    # 80x on the whole loop of 10^6 + 1 terms, checked on the 2,000 + 1 term sample
    assert target.min_ratio == pytest.approx(80 * 2001 / 1_000_001)


def test_case_names() -> None:
    assert zk_suite.pedersen_case_name(10_000) == "pedersen n=10^4"
    assert zk_suite.pedersen_case_name(1_000_000) == "pedersen n=10^6"
    assert zk_suite.msm_case_name(20) == "msm full n=2^20"
    suite = zk_suite.ZKSuite()
    assert [c.name for c in suite.cases(quick=False)] == [
        "pedersen n=10^4",
        "pedersen n=10^5",
        "pedersen n=10^6",
        "msm full n=2^16",
        "msm full n=2^20",
    ]
    assert [c.name for c in suite.cases(quick=True)] == QUICK_CASES


def test_libsodium_loop_equals_privkit_msm() -> None:
    rbcl = pytest.importorskip("rbcl", reason="rbcl (libsodium, the anchor) is not installed")
    from privkit.zk.group import Point, Scalar, msm

    scalars = [Scalar.from_int(v) for v in (0, 1, -1, 7, 2**252)]
    points = [Point.hash_to_group(bytes([i]), b"privkit.tests.zk-bench") for i in range(5)]
    loop = zk_suite.libsodium_loop(
        rbcl, [s.to_bytes() for s in scalars], [p.to_bytes() for p in points]
    )
    assert loop() == msm(scalars, points).to_bytes()
    with pytest.raises(ValueError, match="at least one term"):
        zk_suite.libsodium_loop(rbcl, [], [])


def test_quick_result_shape(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    result, stdout, out = quick_run
    assert result["suite"] == "zk"
    assert result["quick"] is True
    assert (out / "zk.md").is_file()
    assert "## zk:" in stdout
    assert [c["case"] for c in result["cases"]] == QUICK_CASES
    for case in result["cases"]:
        assert case["repeats"] == 3
        assert case["work"] == 1.0
        rows = _rows(case)
        assert set(rows) == {"privkit", ANCHOR}
        assert rows["privkit"]["ratio"] == pytest.approx(1.0)
        for row in rows.values():
            assert set(row) == ROW_KEYS
            assert len(row["times_s"]) == case["repeats"]
            assert all(t >= 0.0 for t in row["times_s"])
    assert {t["status"] for t in result["targets"]} == {"NOT RUN"}
    checks = {c["name"]: c for c in result["checks"]}
    assert set(checks) == {"pedersen_equals_libsodium_loop", "msm_equals_sum_of_scalar_mults"}
    assert all(c["passed"] for c in checks.values())
    assert result["suite_info"]["absolute_checks"] == "quick runs leave them out"


def test_quick_extrapolation(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    result, _, _ = quick_run
    for case in result["cases"]:
        n = case["params"]["n"]
        lib = case["info"]["libsodium"]
        k = lib["sample_terms"]
        assert k == case["params"]["sample_terms"] < n  # quick mode extrapolates too
        assert lib["label"] == f"libsodium-loop (extrapolated from {k} terms)"
        terms, sample_terms = (n + 1, k + 1) if case["case"].startswith("pedersen") else (n, k)
        assert lib["extrapolated_s"] == pytest.approx(lib["sample_median_s"] * terms / sample_terms)
        assert lib["speedup_vs_extrapolated"] == pytest.approx(
            lib["extrapolated_s"] / case["info"]["privkit_median_s"]
        )
        assert case["info"]["privkit_us_per_term"] > 0
